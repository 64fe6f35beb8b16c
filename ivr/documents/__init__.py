"""Documents the line prints: the referral package (PDF) a forwarded case travels with.

The fonts in `fonts/` (DejaVu Sans, with its licence) ship inside the package, so a fresh clone
or a wheel prints Kazakh (ә ғ қ ң ө ұ ү һ і), Russian and English without any system font.
"""
