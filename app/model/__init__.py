"""What the GUI knows about the experiment, and the training it drives; imports no panel."""
