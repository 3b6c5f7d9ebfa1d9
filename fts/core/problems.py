"""
Problems found in campaign settings, in operator language.

A L{Problem} names where (C{path}, e.g. C{"schedule.windows[2]"}, with
0-based indexes so a UI can find the field) and what (C{message}, a sentence
for the operator, with 1-based numbers: "Window 3 on Monday ...").  Parsing
(L{fts.core.campaign.settings_from_dict}) and validation
(L{fts.core.validation.validate_campaign}) both report lists of them.
"""

import attr


@attr.frozen
class Problem:
    """
    One thing wrong with campaign settings.

    @ivar path: where, as a dotted path with 0-based list indexes
        (C{"menu.options[0].target"}); C{""} for the settings as a whole.
    @ivar message: what is wrong and, where possible, how to fix it.
    """

    path: str
    message: str

    def __str__(self):
        return f"{self.path}: {self.message}" if self.path else self.message


def join(path, name):
    """
    Extend a problem path by a field name or a list index.

    @param path: the path so far (C{""} at the root).
    @param name: a field name (C{str}) or a list index (C{int}).
    """
    if isinstance(name, int):
        return f"{path}[{name}]"
    return f"{path}.{name}" if path else name
