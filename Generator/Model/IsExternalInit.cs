// Records with init accessors on netstandard2.0 need this type to exist.
namespace System.Runtime.CompilerServices
{
    internal static class IsExternalInit { }
}
