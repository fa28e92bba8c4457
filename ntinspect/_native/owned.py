"""Ownership of the handles ntinspect opens or duplicates: each one is closed exactly once."""
from __future__ import annotations

import warnings
from typing import Any, Callable, Optional


class OwnedHandle:
    """A handle this library opened; closed by :meth:`close` or by leaving a ``with`` block.

    ``__del__`` only warns (ResourceWarning) and closes as a last resort; code paths never
    rely on it.
    """

    __slots__ = ("_value", "_closer", "__weakref__")

    def __init__(self, value: Any, closer: Callable[[Any], Any]) -> None:
        self._value = value
        self._closer: Optional[Callable[[Any], Any]] = closer

    @property
    def value(self) -> Any:
        """The raw handle (a cffi ``void *``); invalid once closed."""
        if self._closer is None:
            raise ValueError("handle already closed")
        return self._value

    @property
    def closed(self) -> bool:
        return self._closer is None

    def close(self) -> None:
        closer, self._closer = self._closer, None
        if closer is not None:
            closer(self._value)

    def __enter__(self) -> "OwnedHandle":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_closer", None) is None:
            return
        try:  # may run at interpreter shutdown, when imports no longer work: no repr here
            self.close()
        except Exception:
            pass
        try:  # closed first: a warning turned into an error (-W error) must not leak the handle
            warnings.warn("unclosed ntinspect OwnedHandle: close it or use a with block", ResourceWarning,
                          stacklevel=2)
        except Exception:
            pass

    def __int__(self) -> int:
        from . import ffi

        return int(ffi().cast("uintptr_t", self.value))

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{int(self):#x}"
        return f"<OwnedHandle {state}>"


def raw_handle(handle: Any) -> Any:
    """What a native call takes for ``handle``: an :class:`OwnedHandle`'s value, an int handle
    value (``msvcrt.get_osfhandle``, a HandleTable's ``value``) as a pointer, or the cffi
    pointer itself."""
    if isinstance(handle, OwnedHandle):
        return handle.value
    if isinstance(handle, int) and not isinstance(handle, bool):
        from . import ffi

        return ffi().cast("void *", handle)
    return handle
