"""Publishing: the static site, feeds and weekly digest, rendered from the warehouse."""

from toolpanel.publish.site import PublishError, publish_site, safe_url

__all__ = ["PublishError", "publish_site", "safe_url"]
