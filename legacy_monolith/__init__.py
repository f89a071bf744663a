"""TechStore: the Django monolith that strangler migrates, stage by stage."""
