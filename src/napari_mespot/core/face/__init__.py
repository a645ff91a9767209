"""Where the face is: landmarks (and their cache), the eye/mouth regions, head motion."""
