"""The engine's rules as plain Python: windows, anchors, audiences, assignment. No Django here."""
