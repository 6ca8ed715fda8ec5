"""Not numpy: a student's scratch file that happens to be named numpy.py."""

raise ImportError("this is the student's numpy.py, not numpy")
