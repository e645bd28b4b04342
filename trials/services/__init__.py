"""Workflows on the knowledge base, a module each: the seed (seed), integrity checks
(validation), the ClinicalTrials.gov import (ctgov_import), and a trial's agent links
(trial_agents)."""
