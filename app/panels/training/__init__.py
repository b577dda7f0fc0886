"""The Training dock and the widgets only it uses."""
