"""The Playground dock and the widgets only it uses."""
