"""Readers: sources (tables, image folders, NPZ, prediction inputs) into arrays."""
