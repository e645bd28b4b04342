class ProblemsError(Exception):
    """A workflow found problems (`problems` says where and how) and wrote nothing."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))
