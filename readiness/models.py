"""Readiness: versioned requirement sets, waivers, snapshots, participation targets."""
