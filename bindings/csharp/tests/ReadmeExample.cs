// The usage block of the original Mallocator README, verbatim, but for the two scopes
// around its two `var allocator` declarations (C# refuses two in one scope).
// The block only shows the calls, so its results go unused.
#pragma warning disable 219
using Vmallocator;

static class ReadmeExample
{
    public static void Run()
    {
        {
// Create allocator with default size (1 page) and read/write protection
var allocator = new Mallocator();
        }
        {
// Create allocator with custom size and protection
var allocator = new Mallocator(
    size: 4 * VirtualAlloc.PageGranularity,
    protect: VirtualAlloc.MemoryProtectionConstants.PAGE_READWRITE
);

// Allocate memory blocks
ulong ptr1 = allocator.Alloc(1024);        // Allocate 1KB
ulong ptr2 = allocator.Alloc(512, 16);     // Allocate 512 bytes, 16-byte aligned

// Allocate strings and byte arrays
ulong strPtr = allocator.AllocStr("Hello World");
ulong bytesPtr = allocator.AllocBytes(new byte[] { 0x01, 0x02, 0x03 });
ulong hexPtr = allocator.AllocByteStr("00 ab f9 0x42");  // Allocates bytes: 0x00, 0xab, 0xf9, 0x42

// Clean up when done
allocator.Free();
        }
    }
}
