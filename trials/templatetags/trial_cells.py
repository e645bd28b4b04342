from django import template

from ..tables import therapy_class_badges as badges

register = template.Library()


@register.filter
def therapy_class_badges(trial):
    """`{{ trial|therapy_class_badges }}`: as the trial list's Therapy classes column shows them."""
    return badges(trial)
