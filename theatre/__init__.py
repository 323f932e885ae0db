"""The theatre service: theatres, their screens and seat layouts, and the shows on them."""
