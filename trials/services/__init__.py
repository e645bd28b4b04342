"""Workflows on the knowledge base, a module each: the seed (seed), integrity checks
(validation), registry candidates accepted as trials (candidates), registry values accepted into
curated fields (registry_values), and a trial's agent links (trial_agents)."""
