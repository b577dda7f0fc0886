"""The Data dock and the widgets only it uses."""
