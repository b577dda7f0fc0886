"""The Network dock and the widgets only it uses."""
