"""Backends turn raw data (live calls, snapshots) into ntinspect's models."""
