from rest_framework.permissions import DjangoModelPermissions


def reading_requires(action: str) -> type[DjangoModelPermissions]:
    """Model permissions under which reading needs one too, `<action>_<model>`: for what is not
    public (registry candidates, who proposed what)."""
    needed = [f"%(app_label)s.{action}_%(model_name)s"]
    return type(
        f"Reading{action.title()}Required",
        (DjangoModelPermissions,),
        {"perms_map": {**DjangoModelPermissions.perms_map, "GET": needed, "HEAD": needed}},
    )
