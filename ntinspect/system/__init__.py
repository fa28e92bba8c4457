"""Who the system is (:class:`SystemInfo`) and the dialect of the API it speaks.

``info.py``: the record and the version rules (no OS calls); ``live.py``: this system,
read through the Windows API and pefile; ``dialect.py``: the one place that turns a
SystemInfo into the platform decisions (type numbering, AFD codes, TDI, IP Helper).
"""
from .dialect import Dialect, dialect_of, live_dialect
from .info import InfoStatus, SystemInfo, module_version, ubr_from_csd


def system_info() -> SystemInfo:
    """This system's identity: version, build and UBR, product type, native and process
    machine, the file versions of ntdll.dll, ntoskrnl.exe and afd.sys (pefile), Wine's
    version and host. Fields that cannot be read are None with a status. Needs the
    Windows API (natively or under Wine); UnsupportedPlatform elsewhere."""
    from ..sources.current import _CURRENT, current

    chosen = _CURRENT.get()
    if chosen is not None and not getattr(chosen, "gives_answers", False):
        return chosen.system_info()  # a minidump answers itself
    return current().identity()


__all__ = ["SystemInfo", "InfoStatus", "Dialect", "dialect_of", "live_dialect", "system_info",
           "module_version", "ubr_from_csd"]
