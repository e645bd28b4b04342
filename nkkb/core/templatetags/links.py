from django import template

from ..links import filtered_list_url as build_filtered_list_url

register = template.Library()


@register.simple_tag
def filtered_list_url(view_name: str, **filters) -> str:
    """`{% filtered_list_url "trials:trial_list" agent=agent.slug %}`: see nkkb.core.links."""
    return build_filtered_list_url(view_name, **filters)
