"""Small widgets and display helpers shared by several panels."""
