"""Readers: tables, long-format sequences, image folders, NPZ, prediction inputs."""
