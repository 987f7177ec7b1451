"""draw_np: DRAW from scratch in NumPy/CuPy."""
