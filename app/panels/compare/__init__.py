"""The Compare dock: paired runs side by side, and the widgets only it uses."""
