"""Not torch: a student's scratch file that happens to be named torch.py."""

raise ImportError("this is the student's torch.py, not PyTorch")
