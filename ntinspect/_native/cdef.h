/* Native declarations for ntinspect's out-of-line ABI module.
 *
 * Only fixed-width types and plain pointers, so the module is generated identically on
 * Linux and Windows: NTSTATUS is int32_t, ULONG/DWORD uint32_t, BOOLEAN uint8_t,
 * BOOL int32_t, HANDLE void *, ULONG_PTR uintptr_t, SIZE_T size_t, WCHAR uint16_t.
 * Structures carry struct tags only (no typedefs) so they never collide with the
 * Windows types cffi predefines on win32.
 */

struct UNICODE_STRING {
    uint16_t Length;
    uint16_t MaximumLength;
    uint16_t *Buffer;
};

struct OBJECT_ATTRIBUTES {
    uint32_t Length;
    void *RootDirectory;
    struct UNICODE_STRING *ObjectName;
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

struct PROCESS_BASIC_INFORMATION {
    int32_t ExitStatus;
    void *PebBaseAddress;
    uintptr_t AffinityMask;
    int32_t BasePriority;
    uintptr_t UniqueProcessId;
    uintptr_t InheritedFromUniqueProcessId;
};

struct THREAD_BASIC_INFORMATION {
    int32_t ExitStatus;
    void *TebBaseAddress;
    struct CLIENT_ID ClientId;
    uintptr_t AffinityMask;
    int32_t Priority;
    int32_t BasePriority;
};

/* KERNEL_USER_TIMES (ProcessTimes = 4), 100 ns units since 1601-01-01 UTC. */
struct KERNEL_USER_TIMES {
    int64_t CreateTime;
    int64_t ExitTime;
    int64_t KernelTime;
    int64_t UserTime;
};

/* The start of the PEB, through ProcessParameters (phnt ntpebteb.h: 0x10 on 32-bit, 0x20 on 64-bit). */
struct PEB_PREFIX {
    uint8_t InheritedAddressSpace;
    uint8_t ReadImageFileExecOptions;
    uint8_t BeingDebugged;
    uint8_t BitField;
    void *Mutant;
    void *ImageBaseAddress;
    void *Ldr;
    void *ProcessParameters;
};

struct CURDIR {
    struct UNICODE_STRING DosPath;
    void *Handle;
};

/* The start of RTL_USER_PROCESS_PARAMETERS, through CommandLine (phnt ntrtl.h: CommandLine
 * at 0x40 on 32-bit, 0x70 on 64-bit). */
struct RTL_USER_PROCESS_PARAMETERS_PREFIX {
    uint32_t MaximumLength;
    uint32_t Length;
    uint32_t Flags;
    uint32_t DebugFlags;
    void *ConsoleHandle;
    uint32_t ConsoleFlags;
    void *StandardInput;
    void *StandardOutput;
    void *StandardError;
    struct CURDIR CurrentDirectory;
    struct UNICODE_STRING DllPath;
    struct UNICODE_STRING ImagePathName;
    struct UNICODE_STRING CommandLine;
};

/* TOKEN_USER (TokenUser = 1): the SID it points to follows in the same buffer. */
struct SID_AND_ATTRIBUTES {
    void *Sid;
    uint32_t Attributes;
};

struct OSVERSIONINFOEXW {
    uint32_t dwOSVersionInfoSize;
    uint32_t dwMajorVersion;
    uint32_t dwMinorVersion;
    uint32_t dwBuildNumber;
    uint32_t dwPlatformId;
    uint16_t szCSDVersion[128];
    uint16_t wServicePackMajor;
    uint16_t wServicePackMinor;
    uint16_t wSuiteMask;
    uint8_t wProductType;
    uint8_t wReserved;
};

struct SYSTEM_INFO {
    uint16_t wProcessorArchitecture;
    uint16_t wReserved;
    uint32_t dwPageSize;
    void *lpMinimumApplicationAddress;
    void *lpMaximumApplicationAddress;
    uintptr_t dwActiveProcessorMask;
    uint32_t dwNumberOfProcessors;
    uint32_t dwProcessorType;
    uint32_t dwAllocationGranularity;
    uint16_t wProcessorLevel;
    uint16_t wProcessorRevision;
};

/* ntdll.dll */
int32_t WINAPI NtQuerySystemInformation(uint32_t SystemInformationClass, void *SystemInformation,
                                 uint32_t SystemInformationLength, uint32_t *ReturnLength);
int32_t WINAPI NtQueryObject(void *Handle, uint32_t ObjectInformationClass, void *ObjectInformation,
                      uint32_t ObjectInformationLength, uint32_t *ReturnLength);
int32_t WINAPI NtDuplicateObject(void *SourceProcessHandle, void *SourceHandle, void *TargetProcessHandle,
                          void **TargetHandle, uint32_t DesiredAccess, uint32_t HandleAttributes,
                          uint32_t Options);
int32_t WINAPI NtOpenProcess(void **ProcessHandle, uint32_t DesiredAccess,
                      struct OBJECT_ATTRIBUTES *ObjectAttributes, struct CLIENT_ID *ClientId);
int32_t WINAPI NtClose(void *Handle);
int32_t WINAPI NtCompareObjects(void *FirstObjectHandle, void *SecondObjectHandle);
int32_t WINAPI NtOpenFile(void **FileHandle, uint32_t DesiredAccess, struct OBJECT_ATTRIBUTES *ObjectAttributes,
                   struct IO_STATUS_BLOCK *IoStatusBlock, uint32_t ShareAccess, uint32_t OpenOptions);
int32_t WINAPI NtOpenSection(void **SectionHandle, uint32_t DesiredAccess,
                      struct OBJECT_ATTRIBUTES *ObjectAttributes);
int32_t WINAPI NtMapViewOfSection(void *SectionHandle, void *ProcessHandle, void **BaseAddress,
                           uintptr_t ZeroBits, size_t CommitSize, int64_t *SectionOffset,
                           size_t *ViewSize, uint32_t InheritDisposition, uint32_t AllocationType,
                           uint32_t Win32Protect);
int32_t WINAPI NtUnmapViewOfSection(void *ProcessHandle, void *BaseAddress);
int32_t WINAPI NtDeviceIoControlFile(void *FileHandle, void *Event, void *ApcRoutine, void *ApcContext,
                              struct IO_STATUS_BLOCK *IoStatusBlock, uint32_t IoControlCode,
                              void *InputBuffer, uint32_t InputBufferLength,
                              void *OutputBuffer, uint32_t OutputBufferLength);
int32_t WINAPI NtQueryInformationFile(void *FileHandle, struct IO_STATUS_BLOCK *IoStatusBlock,
                               void *FileInformation, uint32_t Length, uint32_t FileInformationClass);
int32_t WINAPI NtQueryVolumeInformationFile(void *FileHandle, struct IO_STATUS_BLOCK *IoStatusBlock,
                                     void *FsInformation, uint32_t Length, uint32_t FsInformationClass);
int32_t WINAPI NtQueryInformationProcess(void *ProcessHandle, uint32_t ProcessInformationClass,
                                  void *ProcessInformation, uint32_t ProcessInformationLength,
                                  uint32_t *ReturnLength);
int32_t WINAPI NtOpenDirectoryObject(void **DirectoryHandle, uint32_t DesiredAccess,
                              struct OBJECT_ATTRIBUTES *ObjectAttributes);
int32_t WINAPI NtQueryDirectoryObject(void *DirectoryHandle, void *Buffer, uint32_t Length,
                               uint8_t ReturnSingleEntry, uint8_t RestartScan, uint32_t *Context,
                               uint32_t *ReturnLength);
int32_t WINAPI NtOpenSymbolicLinkObject(void **LinkHandle, uint32_t DesiredAccess,
                                 struct OBJECT_ATTRIBUTES *ObjectAttributes);
int32_t WINAPI NtQuerySymbolicLinkObject(void *LinkHandle, struct UNICODE_STRING *LinkTarget,
                                  uint32_t *ReturnedLength);
int32_t WINAPI NtQueryInformationThread(void *ThreadHandle, uint32_t ThreadInformationClass, void *ThreadInformation,
                                         uint32_t ThreadInformationLength, uint32_t *ReturnLength);
int32_t WINAPI NtWaitForSingleObject(void *Handle, uint8_t Alertable, int64_t *Timeout);
int32_t WINAPI NtReadVirtualMemory(void *ProcessHandle, void *BaseAddress, void *Buffer, size_t BufferSize,
                                    size_t *NumberOfBytesRead);
int32_t WINAPI NtOpenProcessToken(void *ProcessHandle, uint32_t DesiredAccess, void **TokenHandle);
int32_t WINAPI NtQueryInformationToken(void *TokenHandle, uint32_t TokenInformationClass, void *TokenInformation,
                                        uint32_t TokenInformationLength, uint32_t *ReturnLength);
int32_t WINAPI RtlConvertSidToUnicodeString(struct UNICODE_STRING *UnicodeString, void *Sid,
                                             uint8_t AllocateDestinationString);
uint8_t WINAPI RtlValidSid(void *Sid);
uint32_t WINAPI RtlLengthSid(void *Sid);
uint32_t WINAPI RtlNtStatusToDosError(int32_t Status);
int32_t WINAPI RtlAdjustPrivilege(uint32_t Privilege, uint8_t Enable, uint8_t CurrentThread, uint8_t *Enabled);
const char *WINAPI wine_get_version(void);
void wine_get_host_version(const char **sysname, const char **release);  /* cdecl in Wine */
int32_t WINAPI RtlGetVersion(struct OSVERSIONINFOEXW *VersionInformation);

/* kernel32.dll */
void *WINAPI OpenProcess(uint32_t DesiredAccess, int32_t InheritHandle, uint32_t ProcessId);
void *WINAPI OpenThread(uint32_t DesiredAccess, int32_t InheritHandle, uint32_t ThreadId);
int32_t WINAPI CloseHandle(void *Object);
void *WINAPI GetCurrentProcess(void);
uint32_t WINAPI GetCurrentProcessId(void);
uint32_t WINAPI GetCurrentThreadId(void);
uint32_t WINAPI GetLastError(void);
void *WINAPI CreateEventW(void *EventAttributes, int32_t ManualReset, int32_t InitialState, const uint16_t *Name);
int32_t WINAPI SetEvent(void *Event);
uint32_t WINAPI WaitForSingleObject(void *Handle, uint32_t Milliseconds);
int32_t WINAPI DeviceIoControl(void *Device, uint32_t IoControlCode, void *InBuffer, uint32_t InBufferSize,
                        void *OutBuffer, uint32_t OutBufferSize, uint32_t *BytesReturned,
                        void *Overlapped);
int32_t WINAPI CancelSynchronousIo(void *Thread);
int32_t WINAPI GetProcessHandleCount(void *Process, uint32_t *HandleCount);
int32_t WINAPI IsWow64Process(void *Process, int32_t *Wow64Process);
int32_t WINAPI IsWow64Process2(void *Process, uint16_t *ProcessMachine, uint16_t *NativeMachine);
void WINAPI GetNativeSystemInfo(struct SYSTEM_INFO *SystemInfo);
uint32_t WINAPI GetSystemDirectoryW(uint16_t *Buffer, uint32_t Size);
uint32_t WINAPI QueryDosDeviceW(const uint16_t *DeviceName, uint16_t *TargetPath, uint32_t Max);

/* advapi32.dll */
int32_t WINAPI LookupAccountSidW(const uint16_t *SystemName, void *Sid, uint16_t *Name, uint32_t *NameLength,
                                 uint16_t *ReferencedDomainName, uint32_t *DomainLength, uint32_t *Use);

/* iphlpapi.dll */
uint32_t WINAPI GetExtendedTcpTable(void *TcpTable, uint32_t *SizePointer, int32_t Order, uint32_t AddressFamily,
                             uint32_t TableClass, uint32_t Reserved);
uint32_t WINAPI GetExtendedUdpTable(void *UdpTable, uint32_t *SizePointer, int32_t Order, uint32_t AddressFamily,
                             uint32_t TableClass, uint32_t Reserved);
