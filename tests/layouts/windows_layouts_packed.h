/* Declarations tdi.h makes inside #include <pshpack1.h> (byte-packed); cffi reads this
 * file with cdef(..., packed=True). Same conventions as windows_layouts.h. */

struct TDI_ADDRESS_IP {
    uint16_t sin_port;
    uint32_t in_addr;
    uint8_t sin_zero[8];
};

struct TDI_ADDRESS_IP6 {
    uint16_t sin6_port;
    uint32_t sin6_flowinfo;
    uint8_t sin6_addr[16];
    uint32_t sin6_scope_id;
};
