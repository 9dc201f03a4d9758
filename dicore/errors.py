"""Errors shared across dicore's edges."""


class UserError(Exception):
    """An error the user can fix: the CLI prints it as one line plus a hint and exits 2.

    Messages name the file, row and field at fault where there is one.
    """

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint
