/* The structures of ntinspect.layouts as C declarations, for cffi (inline ABI mode).
 *
 * Transcribed from the public headers (System Informer's phnt, the Windows SDK/WDK shapes
 * as shipped by mingw-w64: winternl.h, tdi.h, iprtrmib.h, ws2def.h, ws2ipdef.h). Only
 * fixed-width types and `void *`, so the same text describes the 32- and 64-bit layouts:
 * ULONG/DWORD/ACCESS_MASK uint32_t, LONG/NTSTATUS/KPRIORITY int32_t, USHORT/WCHAR uint16_t,
 * UCHAR/BOOLEAN uint8_t, LARGE_INTEGER int64_t, HANDLE/PVOID void *, ULONG_PTR/SIZE_T
 * uintptr_t. Struct tags only (no typedefs), so nothing collides with cffi's win32 types.
 * Variable arrays are declared [1] as in the headers; tests compare their offsets only.
 * TDI_ADDRESS_IP (byte-packed in tdi.h) lives in windows_layouts_packed.h.
 */

struct UNICODE_STRING {
    uint16_t Length;
    uint16_t MaximumLength;
    void *Buffer;
};

struct OBJECT_ATTRIBUTES {
    uint32_t Length;
    void *RootDirectory;
    void *ObjectName;
    uint32_t Attributes;
    void *SecurityDescriptor;
    void *SecurityQualityOfService;
};

struct IO_STATUS_BLOCK {
    union {
        int32_t Status;
        void *Pointer;
    };
    uintptr_t Information;
};

struct CLIENT_ID {
    void *UniqueProcess;
    void *UniqueThread;
};

struct GENERIC_MAPPING {
    uint32_t GenericRead;
    uint32_t GenericWrite;
    uint32_t GenericExecute;
    uint32_t GenericAll;
};

struct SYSTEM_HANDLE_TABLE_ENTRY_INFO {
    uint16_t UniqueProcessId;
    uint16_t CreatorBackTraceIndex;
    uint8_t ObjectTypeIndex;
    uint8_t HandleAttributes;
    uint16_t HandleValue;
    void *Object;
    uint32_t GrantedAccess;
};

struct SYSTEM_HANDLE_INFORMATION {
    uint32_t NumberOfHandles;
    struct SYSTEM_HANDLE_TABLE_ENTRY_INFO Handles[1];
};

struct SYSTEM_HANDLE_TABLE_ENTRY_INFO_EX {
    void *Object;
    uintptr_t UniqueProcessId;
    uintptr_t HandleValue;
    uint32_t GrantedAccess;
    uint16_t CreatorBackTraceIndex;
    uint16_t ObjectTypeIndex;
    uint32_t HandleAttributes;
    uint32_t Reserved;
};

struct SYSTEM_HANDLE_INFORMATION_EX {
    uintptr_t NumberOfHandles;
    uintptr_t Reserved;
    struct SYSTEM_HANDLE_TABLE_ENTRY_INFO_EX Handles[1];
};

struct PROCESS_HANDLE_TABLE_ENTRY_INFO {
    void *HandleValue;
    uintptr_t HandleCount;
    uintptr_t PointerCount;
    uint32_t GrantedAccess;
    uint32_t ObjectTypeIndex;
    uint32_t HandleAttributes;
    uint32_t Reserved;
};

struct PROCESS_HANDLE_SNAPSHOT_INFORMATION {
    uintptr_t NumberOfHandles;
    uintptr_t Reserved;
    struct PROCESS_HANDLE_TABLE_ENTRY_INFO Handles[1];
};

struct SYSTEM_THREAD_INFORMATION {
    int64_t KernelTime;
    int64_t UserTime;
    int64_t CreateTime;
    uint32_t WaitTime;
    void *StartAddress;
    struct CLIENT_ID ClientId;
    int32_t Priority;
    int32_t BasePriority;
    uint32_t ContextSwitches;
    uint32_t ThreadState;
    uint32_t WaitReason;
};

/* Through OtherTransferCount (SYSTEM_PROCESS_INFORMATION_SIZE); the threads follow. */
struct SYSTEM_PROCESS_INFORMATION {
    uint32_t NextEntryOffset;
    uint32_t NumberOfThreads;
    uint64_t WorkingSetPrivateSize;
    uint32_t HardFaultCount;
    uint32_t NumberOfThreadsHighWatermark;
    uint64_t CycleTime;
    int64_t CreateTime;
    int64_t UserTime;
    int64_t KernelTime;
    struct UNICODE_STRING ImageName;
    int32_t BasePriority;
    void *UniqueProcessId;
    void *InheritedFromUniqueProcessId;
    uint32_t HandleCount;
    uint32_t SessionId;
    uintptr_t UniqueProcessKey;
    uintptr_t PeakVirtualSize;
    uintptr_t VirtualSize;
    uint32_t PageFaultCount;
    uintptr_t PeakWorkingSetSize;
    uintptr_t WorkingSetSize;
    uintptr_t QuotaPeakPagedPoolUsage;
    uintptr_t QuotaPagedPoolUsage;
    uintptr_t QuotaPeakNonPagedPoolUsage;
    uintptr_t QuotaNonPagedPoolUsage;
    uintptr_t PagefileUsage;
    uintptr_t PeakPagefileUsage;
    uintptr_t PrivatePageCount;
    int64_t ReadOperationCount;
    int64_t WriteOperationCount;
    int64_t OtherOperationCount;
    int64_t ReadTransferCount;
    int64_t WriteTransferCount;
    int64_t OtherTransferCount;
};

struct OBJECT_BASIC_INFORMATION {
    uint32_t Attributes;
    uint32_t GrantedAccess;
    uint32_t HandleCount;
    uint32_t PointerCount;
    uint32_t PagedPoolCharge;
    uint32_t NonPagedPoolCharge;
    uint32_t Reserved[3];
    uint32_t NameInfoSize;
    uint32_t TypeInfoSize;
    uint32_t SecurityDescriptorSize;
    int64_t CreationTime;
};

struct OBJECT_NAME_INFORMATION {
    struct UNICODE_STRING Name;
};

struct OBJECT_TYPE_INFORMATION {
    struct UNICODE_STRING TypeName;
    uint32_t TotalNumberOfObjects;
    uint32_t TotalNumberOfHandles;
    uint32_t TotalPagedPoolUsage;
    uint32_t TotalNonPagedPoolUsage;
    uint32_t TotalNamePoolUsage;
    uint32_t TotalHandleTableUsage;
    uint32_t HighWaterNumberOfObjects;
    uint32_t HighWaterNumberOfHandles;
    uint32_t HighWaterPagedPoolUsage;
    uint32_t HighWaterNonPagedPoolUsage;
    uint32_t HighWaterNamePoolUsage;
    uint32_t HighWaterHandleTableUsage;
    uint32_t InvalidAttributes;
    struct GENERIC_MAPPING GenericMapping;
    uint32_t ValidAccessMask;
    uint8_t SecurityRequired;
    uint8_t MaintainHandleCount;
    uint8_t TypeIndex;
    int8_t ReservedByte;
    uint32_t PoolType;
    uint32_t DefaultPagedPoolCharge;
    uint32_t DefaultNonPagedPoolCharge;
};

struct OBJECT_TYPES_INFORMATION {
    uint32_t NumberOfTypes;
};

struct OBJECT_DIRECTORY_INFORMATION {
    struct UNICODE_STRING Name;
    struct UNICODE_STRING TypeName;
};

struct TDI_REQUEST {
    union {
        void *AddressHandle;
        void *ConnectionContext;
        void *ControlChannel;
    } Handle;
    void *RequestNotifyObject;
    void *RequestContext;
    int32_t TdiStatus;
};

struct TDI_CONNECTION_INFORMATION {
    int32_t UserDataLength;
    void *UserData;
    int32_t OptionsLength;
    void *Options;
    int32_t RemoteAddressLength;
    void *RemoteAddress;
};

struct TDI_REQUEST_QUERY_INFORMATION {
    struct TDI_REQUEST Request;
    uint32_t QueryType;
    void *RequestConnectionInformation;
};

struct TDI_CONNECTION_INFO {
    uint32_t State;
    uint32_t Event;
    uint32_t TransmittedTsdus;
    uint32_t ReceivedTsdus;
    uint32_t TransmissionErrors;
    uint32_t ReceiveErrors;
    int64_t Throughput;
    int64_t Delay;
    uint32_t SendBufferSize;
    uint32_t ReceiveBufferSize;
    uint8_t Unreliable;
};

struct TA_ADDRESS {
    uint16_t AddressLength;
    uint16_t AddressType;
    uint8_t Address[1];
};

struct TRANSPORT_ADDRESS {
    int32_t TAAddressCount;
    struct TA_ADDRESS Address[1];
};

struct TDI_ADDRESS_INFO {
    uint32_t ActivityCount;
    struct TRANSPORT_ADDRESS Address;
};

struct sockaddr_in {
    uint16_t sin_family;
    uint16_t sin_port;
    uint8_t sin_addr[4];
    uint8_t sin_zero[8];
};

struct sockaddr_in6 {
    uint16_t sin6_family;
    uint16_t sin6_port;
    uint32_t sin6_flowinfo;
    uint8_t sin6_addr[16];
    uint32_t sin6_scope_id;
};

struct LINGER {
    uint16_t l_onoff;
    uint16_t l_linger;
};

/* Wine's reply to IOCTL_AFD_WINE_GET_INFO (include/wine/afd.h). */
struct afd_get_info_params {
    int32_t family;
    int32_t type;
    int32_t protocol;
};

/* The leading fields of SOCK_SHARED_INFO, through LastError. */
struct SOCK_SHARED_INFO {
    int32_t State;
    int32_t AddressFamily;
    int32_t SocketType;
    int32_t Protocol;
    int32_t LocalAddressLength;
    int32_t RemoteAddressLength;
    struct LINGER LingerInfo;
    uint32_t SendTimeout;
    uint32_t ReceiveTimeout;
    uint32_t ReceiveBufferSize;
    uint32_t SendBufferSize;
    uint16_t Flags;
    uint32_t CreationFlags;
    uint32_t CatalogEntryId;
    uint32_t ServiceFlags1;
    uint32_t ProviderFlags;
    uint32_t GroupID;
    uint32_t GroupType;
    int32_t GroupPriority;
    int32_t LastError;
};

struct AFD_INFORMATION {
    uint32_t InformationType;
    union {
        uint8_t Boolean;
        uint32_t Ulong;
        int64_t LargeInteger;
    } Information;
};

struct MIB_TCPROW_OWNER_PID {
    uint32_t dwState;
    uint32_t dwLocalAddr;
    uint32_t dwLocalPort;
    uint32_t dwRemoteAddr;
    uint32_t dwRemotePort;
    uint32_t dwOwningPid;
};

struct MIB_TCPTABLE_OWNER_PID {
    uint32_t dwNumEntries;
    struct MIB_TCPROW_OWNER_PID table[1];
};

struct MIB_TCP6ROW_OWNER_PID {
    uint8_t ucLocalAddr[16];
    uint32_t dwLocalScopeId;
    uint32_t dwLocalPort;
    uint8_t ucRemoteAddr[16];
    uint32_t dwRemoteScopeId;
    uint32_t dwRemotePort;
    uint32_t dwState;
    uint32_t dwOwningPid;
};

struct MIB_TCP6TABLE_OWNER_PID {
    uint32_t dwNumEntries;
    struct MIB_TCP6ROW_OWNER_PID table[1];
};

struct MIB_UDPROW_OWNER_PID {
    uint32_t dwLocalAddr;
    uint32_t dwLocalPort;
    uint32_t dwOwningPid;
};

struct MIB_UDPTABLE_OWNER_PID {
    uint32_t dwNumEntries;
    struct MIB_UDPROW_OWNER_PID table[1];
};

struct MIB_UDP6ROW_OWNER_PID {
    uint8_t ucLocalAddr[16];
    uint32_t dwLocalScopeId;
    uint32_t dwLocalPort;
    uint32_t dwOwningPid;
};

struct MIB_UDP6TABLE_OWNER_PID {
    uint32_t dwNumEntries;
    struct MIB_UDP6ROW_OWNER_PID table[1];
};

struct MIB_TCPROW {
    uint32_t dwState;
    uint32_t dwLocalAddr;
    uint32_t dwLocalPort;
    uint32_t dwRemoteAddr;
    uint32_t dwRemotePort;
};

struct MIB_TCPTABLE {
    uint32_t dwNumEntries;
    struct MIB_TCPROW table[1];
};

struct MIB_TCP6ROW {
    uint32_t State;
    uint8_t LocalAddr[16];
    uint32_t dwLocalScopeId;
    uint32_t dwLocalPort;
    uint8_t RemoteAddr[16];
    uint32_t dwRemoteScopeId;
    uint32_t dwRemotePort;
};

struct MIB_TCP6TABLE {
    uint32_t dwNumEntries;
    struct MIB_TCP6ROW table[1];
};

struct MIB_UDPROW {
    uint32_t dwLocalAddr;
    uint32_t dwLocalPort;
};

struct MIB_UDPTABLE {
    uint32_t dwNumEntries;
    struct MIB_UDPROW table[1];
};

struct MIB_UDP6ROW {
    uint8_t dwLocalAddr[16];
    uint32_t dwLocalScopeId;
    uint32_t dwLocalPort;
};

struct MIB_UDP6TABLE {
    uint32_t dwNumEntries;
    struct MIB_UDP6ROW table[1];
};
