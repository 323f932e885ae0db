"""What the three services' HTTP APIs share: bearer auth, error bodies, health,
common schema types and the assembly of a litestar app around one service."""
