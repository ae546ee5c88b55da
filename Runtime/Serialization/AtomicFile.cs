using System;
using System.Diagnostics;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;

namespace ModelGen;

/// <summary>
/// Writes a file so that readers see either the old file or the whole new one, with any number of writers on the
/// same path (threads or processes): each write goes to its own temporary file in the target's directory
/// (<c>.{name}.{host}.{pid}.{random}.tmp</c>), is flushed to disk, and is renamed over the target. A failing write
/// deletes only its own temporary file. A writer killed mid-write leaves its temporary file behind; the next write to
/// the same target removes those whose process (on this host) is gone. A target that exists and is not a regular
/// file (a directory, a device such as <c>/dev/null</c>, a FIFO, a socket; symbolic links are followed) is refused
/// with an <see cref="IOException"/> and left as it is.
/// </summary>
internal static class AtomicFile
{
    // ".{name}." + host + ".{pid}.{16 hex}.tmp" must fit a file name of 255 bytes.
    const int MaxStemBytes = 150;

    static readonly string Host = SanitizedHost();

    /// <summary>Writes <paramref name="path"/> atomically with <paramref name="write"/>, which writes the whole content.</summary>
    public static void Write(string path, Action<FileStream> write)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(write);
        string full = Path.GetFullPath(path);
        string name = Path.GetFileName(full);
        if (name.Length == 0) throw new IOException($"Cannot write '{path}': the path names a directory, not a file.");
        CheckTarget(full, path);
        RemoveStaleTemporaries(Path.GetDirectoryName(full)!, Stem(name));
        string tmp = TemporaryPath(full, Environment.ProcessId, Random.Shared.NextInt64());
        bool created = false;
        try
        {
            // CreateNew: never open (or later delete) a file that another writer made.
            using (var stream = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                created = true;
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            CheckTarget(full, path);   // again just before the rename, which would replace whatever is there
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            if (created)
            {
                try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            }
            throw;
        }
    }

    /// <summary>The temporary file of process <paramref name="pid"/> on this host for the target <paramref name="fullPath"/>.</summary>
    internal static string TemporaryPath(string fullPath, int pid, long random) =>
        Path.Combine(Path.GetDirectoryName(fullPath)!, $"{Stem(Path.GetFileName(fullPath))}{Host}.{pid}.{random:x16}.tmp");

    /// <summary>The start of every temporary file name for a target named <paramref name="name"/>: <c>.{name}.</c>, the name cut to fit.</summary>
    static string Stem(string name)
    {
        while (Encoding.UTF8.GetByteCount(name) > MaxStemBytes) name = name.Substring(0, name.Length - 1);
        return "." + name + ".";
    }

    /// <summary>The machine name with only letters, digits and '-', at most 32 characters (so the name parses by its dots).</summary>
    static string SanitizedHost()
    {
        string machine;
        try { machine = Environment.MachineName; }
        catch (InvalidOperationException) { machine = ""; }
        var host = new StringBuilder();
        foreach (char c in machine)
        {
            if (host.Length == 32) break;
            host.Append(char.IsAsciiLetterOrDigit(c) || c == '-' ? c : '-');
        }
        return host.Length > 0 ? host.ToString() : "host";
    }

    /// <summary>Deletes this target's temporary files left by writers on this host whose process no longer runs.</summary>
    static void RemoveStaleTemporaries(string directory, string stem)
    {
        var options = new EnumerationOptions { AttributesToSkip = 0, IgnoreInaccessible = true, MatchCasing = MatchCasing.CaseSensitive };
        try
        {
            foreach (string file in Directory.EnumerateFiles(directory, "*.tmp", options))
            {
                string fileName = Path.GetFileName(file);
                if (!fileName.StartsWith(stem, StringComparison.Ordinal)) continue;
                // {host}.{pid}.{random}.tmp
                string[] parts = fileName.Substring(stem.Length).Split('.');
                if (parts.Length != 4 || parts[0] != Host || !int.TryParse(parts[1], out int pid) || parts[2].Length != 16) continue;
                if (IsRunning(pid)) continue;
                try { File.Delete(file); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            }
        }
        catch (IOException) { }                  // cleaning up is best effort: the save itself decides success
        catch (UnauthorizedAccessException) { }
    }

    static bool IsRunning(int pid)
    {
        if (pid == Environment.ProcessId) return true;   // another thread of this process is writing
        try
        {
            using var process = Process.GetProcessById(pid);
            return true;   // running (or a zombie not yet reaped, or a reused pid: then the file waits for a later save)
        }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }

    /// <summary>Throws when <paramref name="full"/> exists and is not a regular file.</summary>
    static void CheckTarget(string full, string path)
    {
        string? kind = Directory.Exists(full) ? "directory" : NonRegularKind(full);
        if (kind != null)
            throw new IOException(
                $"Cannot write '{path}': it is a {kind}, not a regular file. Files are written to a temporary file and renamed over the target, which would replace the {kind}; choose a regular file's path.");
    }

    // Linux statx(2): the file type, following symbolic links. The struct's layout is the kernel's, the same on every
    // architecture: stx_mask (u32) at 0, stx_mode (u16) at 28; 256 bytes in all.
    const int AtFdCwd = -100;
    const uint StatxType = 0x1;
    static readonly IntPtr s_statx = FindStatx();

    static IntPtr FindStatx()
    {
        if (!OperatingSystem.IsLinux()) return IntPtr.Zero;
        return NativeLibrary.TryGetExport(NativeLibrary.GetMainProgramHandle(), "statx", out IntPtr address) ? address : IntPtr.Zero;
    }

    /// <summary>
    /// What <paramref name="path"/> is when it exists and is neither a regular file nor a directory ("character
    /// device", "FIFO", ...); null when it is a regular file or a directory, does not exist, or the type cannot be
    /// read (off Linux, where a rename cannot replace a device, or where the C library lacks statx).
    /// </summary>
    internal static unsafe string? NonRegularKind(string path)
    {
        if (s_statx == IntPtr.Zero) return null;
        int length = Encoding.UTF8.GetByteCount(path);
        byte[] utf8 = new byte[length + 1];
        Encoding.UTF8.GetBytes(path, utf8);
        byte* buffer = stackalloc byte[256];
        int result;
        fixed (byte* p = utf8)
            result = ((delegate* unmanaged<int, byte*, int, uint, byte*, int>)s_statx)(AtFdCwd, p, 0, StatxType, buffer);
        if (result != 0) return null;   // no such file (or no way to tell)
        if ((*(uint*)buffer & StatxType) == 0) return null;
        int type = *(ushort*)(buffer + 28) & 0xF000;
        return type switch
        {
            0x8000 or 0x4000 => null,   // regular file, directory
            0x2000 => "character device",
            0x6000 => "block device",
            0x1000 => "FIFO (named pipe)",
            0xC000 => "socket",
            _ => $"special file (type 0x{type:x4})",
        };
    }
}
