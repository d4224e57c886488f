"""Sign-in throttling for every sign-in that comes over the network.

django-axes counts failures per (username, address) and refuses a locked-out pair. Its backend insists on
the HTTP request; a sign-in without one (Django's test client, a script calling `authenticate`) has no
address to throttle and is not a network guess, so it is left to the next backend instead of failing.
"""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend


class ThrottledSignInBackend(AxesStandaloneBackend):
    def authenticate(self, request=None, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
