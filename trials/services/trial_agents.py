"""A trial's agent links, written as one list."""

from ..models import Trial, TrialAgent


def trial_agents_replace(*, trial: Trial, links: list[dict]) -> None:
    """Make `links` the trial's agents; a link that stays is kept, with its history."""
    existing = {link.agent_id: link for link in trial.trial_agents.all()}
    for data in links:
        link = existing.pop(data["agent"].pk, None) or TrialAgent(trial=trial)
        if link.pk is None or any(getattr(link, name) != value for name, value in data.items()):
            for name, value in data.items():
                setattr(link, name, value)
            link.save()
    for link in existing.values():
        link.delete()
