"""A site's publishing profiles: `POST sites/{name}/publishxml` answers App Service's `publishData` XML (the Azure
CLI reads its FTP profile while `az webapp create` runs). The user name is `$` + the site's name, as in Azure; the
password is made once per site and kept in the simulator's own state for the site, never rendered on a GET."""

from __future__ import annotations

import re
import secrets
from typing import Any
from xml.sax.saxutils import quoteattr

PASSWORD_KEY = "publishingPassword"


def ensure_password(state: dict[str, Any]) -> None:
    if not state.get(PASSWORD_KEY):
        state[PASSWORD_KEY] = secrets.token_urlsafe(45)  # 60 characters, as App Service's are


def _profile(**attrs: str) -> str:
    shown = " ".join(f"{k}={quoteattr(v)}" for k, v in attrs.items())
    return f"<publishProfile {shown}><databases /></publishProfile>"


def publish_xml(doc: dict[str, Any], state: dict[str, Any]) -> str:
    name, props = doc["name"], doc.get("properties") or {}
    host = props.get("defaultHostName") or f"{name}.azurewebsites.net"
    scm = host.replace(".", ".scm.", 1)
    stamp = "waws-prod-" + re.sub(r"[^a-z0-9]", "", str(doc.get("location", "")).lower())[:12] + "-001"
    user, password = f"${name}", str(state.get(PASSWORD_KEY, ""))
    common = {"userName": user, "userPWD": password, "destinationAppUrl": f"http://{host}",
              "SQLServerDBConnectionString": "", "mySQLDBConnectionString": "", "hostingProviderForumLink": "",
              "controlPanelLink": "https://portal.azure.com", "webSystem": "WebSites"}
    web_deploy = _profile(profileName=f"{name} - Web Deploy", publishMethod="MSDeploy", publishUrl=f"{scm}:443",
                          msdeploySite=name, **common)
    ftp = _profile(profileName=f"{name} - FTP", publishMethod="FTP",
                   publishUrl=f"ftps://{stamp}.ftp.azurewebsites.windows.net/site/wwwroot", ftpPassiveMode="True",
                   **{**common, "userName": f"{name}\\{user}"})
    zip_deploy = _profile(profileName=f"{name} - Zip Deploy", publishMethod="ZipDeploy", publishUrl=f"{scm}:443",
                          **common)
    return f"<publishData>{web_deploy}{ftp}{zip_deploy}</publishData>"
