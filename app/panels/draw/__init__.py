"""The Draw dock and the widgets only it uses."""
