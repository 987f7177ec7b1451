# %% [markdown]
# # Lesson 1: the data. Binarised MNIST, what binarisation means, and the standard split
#
# What you will learn:
#
# * what DRAW is trained on: $28 \times 28$ images whose pixels are 0 or 1, not grey levels;
# * binarisation: each pixel is switched on with probability equal to its grey level, so a
#   binary image is one sample from a grid of coin flips, and the model's job is to learn
#   those coin-flip probabilities (this is why its output is a Bernoulli mean, spec eq. 9);
# * the 50,000 / 10,000 / 10,000 train / validation / test split, and why the bits are fixed.

# %%
import matplotlib.pyplot as plt
import numpy as np

from draw_np import data
from _common import Lesson, load_digits, load_sample_digits

lesson = Lesson("Lesson 1: the data")

# %% [markdown]
# ## 1. Load the digits
#
# `draw_np.data.load_binarized_mnist()` finds MNIST (in the cache, in a file you name, or by a
# download), checks it against reference hashes, and returns a dict of three `uint8` arrays
# of shape $(n, 28, 28)$ holding only 0s and 1s.
#
# With `--fast` we use the 100 digits bundled with the package instead (the same kind of
# array, just fewer), so nothing touches the network.

# %%
lesson.step("Load the digits")
images, source = load_digits(lesson.fast, "train")
print(f"  from {source}: shape {images.shape}, dtype {images.dtype}, "
      f"values {np.unique(images).tolist()}")
assert images.dtype == np.uint8 and images.shape[1:] == (28, 28)
assert set(np.unique(images).tolist()) <= {0, 1}
print(f"  {images.mean():.1%} of the pixels are on: digits are mostly background.")

fig, axes = plt.subplots(4, 8, figsize=(8, 4.3))
for ax, image in zip(axes.flat, images):
    ax.imshow(image, cmap="gray_r", vmin=0, vmax=1)
    ax.axis("off")
fig.suptitle("binarised MNIST: every pixel is exactly 0 (white) or 1 (black)")
lesson.save(fig, "01_digits.png")

# %% [markdown]
# ## 2. Binarisation by hand
#
# MNIST is stored as grey levels in $[0, 1]$. Binarised MNIST turns each pixel into a coin
# flip: the bit is 1 with probability equal to the grey level, that is
#
# $$\text{bit} = [\,u < \text{grey}\,], \qquad u \sim \text{Uniform}(0, 1).$$
#
# One uniform number per pixel, one comparison. We do it by hand and check that
# `draw_np.data.binarize(grey, rng)` gives exactly the same bits from the same random stream.

# %%
lesson.step("Binarisation by hand")
have_mnist = len(images) > 100          # False with --fast, or when MNIST could not be had
if not have_mnist:
    # The bundled sample holds bits only. Blurring one digit gives us soft grey levels to play
    # with (real MNIST grey levels look much the same: dark strokes with soft edges).
    digit = load_sample_digits()[0][0].astype(np.float32)
    padded = np.pad(digit, 1)
    grey = sum(padded[dy:dy + 28, dx:dx + 28] for dy in range(3) for dx in range(3)) / 9
    print("  (no MNIST grey levels here: we blur a bundled digit with a 3 x 3 box filter)")
else:
    grey = data.load_mnist()["train"][0]
    print("  the grey levels of the first training digit")

u = np.random.default_rng(7).random(grey.shape, dtype=np.float32)   # one uniform per pixel
bits_by_hand = (u < grey).astype(np.uint8)
bits = data.binarize(grey, np.random.default_rng(7))
assert np.array_equal(bits, bits_by_hand)
print("  by hand == data.binarize: OK")

# %% [markdown]
# ## 3. What the bits mean: an average of coin flips
#
# Each binarisation is a different random sample. Averaged over many of them, the bits give
# back the grey levels:
#
# $$\mathbb{E}[\text{bit}] = P(\text{bit} = 1) = \text{grey}.$$
#
# This is the key to DRAW's output layer: the final canvas $c_T$ holds logits, and
# $\sigma(c_T)$ is the model's guess of exactly these probabilities (spec eq. 9, a Bernoulli
# likelihood). A perfect model of a blurry stroke edge says "on with probability 0.4", not
# "on".

# %%
lesson.step("What the bits mean: an average of coin flips")
rng = np.random.default_rng(0)
many = 200 if lesson.fast else 2000
mean_of_bits = np.mean([data.binarize(grey, rng) for _ in range(many)], axis=0)
worst = np.abs(mean_of_bits - grey).max()
print(f"  largest |mean of {many} binarisations - grey level| = {worst:.3f}")
assert worst < 5 * 0.5 / np.sqrt(many)  # five standard errors of a coin flip at p = 0.5

fig, axes = plt.subplots(1, 5, figsize=(10, 2.4))
more = [data.binarize(grey, rng) for _ in range(2)]
panels = [(grey, "grey levels"), (bits, "bits, sample 1"), (more[0], "bits, sample 2"),
          (more[1], "bits, sample 3"), (mean_of_bits, f"mean of {many} samples")]
for ax, (image, title) in zip(axes, panels):
    ax.imshow(image, cmap="gray_r", vmin=0, vmax=1)
    ax.set_title(title, fontsize=9)
    ax.axis("off")
fig.suptitle("binarisation: each pixel is on with probability equal to its grey level")
lesson.save(fig, "01_binarisation.png")

# %% [markdown]
# ## 4. The split, and why the bits are fixed
#
# The standard split:
#
# * the first 50,000 of MNIST's 60,000 training images train the model;
# * the last 10,000 are the validation set (choose settings, keep the best checkpoint);
# * the 10,000 official test images are used once, for the number you report (in nats per
#   image; the paper's DRAW with attention reaches $\le 80.97$).
#
# The bits are drawn **once**, from a fixed seed (`draw_np.data.BINARIZE_SEED`), and cached:
# every run trains and is scored on the same bits, so two bounds can be compared. (Training
# with fresh bits every epoch, `--dynamic-binarization`, is a mild regulariser; evaluation
# still uses the fixed bits.)
#
# The model takes float arrays in $[0, 1]$: `x = images.astype(np.float32)`.

# %%
lesson.step("The split, and why the bits are fixed")
print(f"  splits: {', '.join(data.SPLITS)};  fixed binarisation seed: {data.BINARIZE_SEED}")
if have_mnist:
    splits = data.load_binarized_mnist()
    sizes = {k: len(v) for k, v in splits.items()}
    print(f"  sizes: {sizes}")
    assert sizes == {"train": 50_000, "valid": 10_000, "test": 10_000}
x = images[:16].astype(np.float32)
assert x.min() >= 0 and x.max() <= 1
print(f"  a batch for the model: x.shape = {x.shape}, dtype {x.dtype}")

lesson.done()
