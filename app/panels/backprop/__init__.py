"""The Backprop dock: one sample's backward pass, layer by layer, and the gradient check."""
