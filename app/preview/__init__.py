"""Run one panel or dialog alone for a quick look, and render the README's screenshots."""
