# Jupyter Server settings for the posekit apps on mybinder.org and JupyterHub, next to
# jupyter_config.json (postBuild copies both into `jupyter --config-dir`).
#
# There the hub's proxy authenticates every request (the Binder session address, the
# hub login), so the server keeps the hub's authentication and binds where the hub
# tells it; these files only narrow what Voila serves and shut down the kernels of
# closed pages (see docs/deploy.md and posekit/widgets/serve.py).
#
# Voila's page asks the server to shut its kernel down when it is left (closed tab,
# followed link) with a request that carries the `_xsrf` cookie, which Voila 0.5 never
# sets: without this hook the request is refused and the kernel stays until culled.
#
# posekit.widgets.serve, loaded as a server extension, serves a project's analysis
# results and labelled videos to the logged-in user (read-only; the Analyze app links
# them): the same handler as under `make app`.
try:
    from posekit.widgets.serve import set_xsrf_cookie
except ImportError:  # posekit not installed in this environment: nothing to set
    pass
else:
    c.VoilaConfiguration.prelaunch_hook = set_xsrf_cookie  # noqa: F821 - Jupyter's config object
    c.ServerApp.jpserver_extensions.update({"posekit.widgets.serve": True})  # noqa: F821
