"""Pure-torch ports of OpenCV's Farneback, TV-L1 and DIS (GPU path), tested against OpenCV."""
