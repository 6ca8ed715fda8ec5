"""The sandboxed worker and the plain-data protocol it speaks."""
