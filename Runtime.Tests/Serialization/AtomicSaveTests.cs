using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using ModelGen.Runtime.Tests.Data;
using Xunit;

namespace ModelGen.Runtime.Tests.Serialization;

/// <summary>
/// A writer of checkpoints for the multi-process tests, run in a child process
/// (<c>dotnet ModelGen.Runtime.Tests.dll save-worker path writer saves</c>): it saves <c>saves</c> times to one path,
/// every value of save <c>i</c> being <see cref="Mark"/>(writer, i), and exits 1 at the first save that throws.
/// </summary>
public static class SaveWorker
{
    public const string Command = "save-worker";

    /// <summary>2^20 + 16 floats: a 4 MB file, so that a kill often lands in the middle of a save.</summary>
    public static ParameterStore Store() => new(new[]
    {
        new ParameterInfo("w", new[] { 1 << 20 }, 0, Init.Zeros),
        new ParameterInfo("b", new[] { 16 }, 1 << 20, Init.Zeros),
    }, seed: 0);

    public static float Mark(int writer, int save) => writer * 100_000 + save;

    public static void Fill(ParameterStore store, int writer, int save) => store.Values.Fill(Mark(writer, save));

    public static int Run(string path, int writer, int saves)
    {
        var store = Store();
        for (int i = 0; i < saves; i++)
        {
            Fill(store, writer, i);
            try
            {
                SafeTensors.Save(path, store);
            }
            catch (Exception e)
            {
                Console.Error.WriteLine($"writer {writer}, save {i}: {e}");
                return 1;
            }
        }
        return 0;
    }

    /// <summary>Loads <paramref name="path"/> and checks that it is one whole save: every value the same mark.</summary>
    public static void LoadWhole(string path, ParameterStore store)
    {
        SafeTensors.Load(path, store);
        float first = store.Values[0];
        int mixed = store.Values.IndexOfAnyExcept(first);
        Assert.True(mixed < 0, $"{path} mixes saves: value {first} at 0 and {(mixed < 0 ? 0 : store.Values[mixed])} at {mixed}");
    }
}

/// <summary>
/// Several writers on one path (threads, processes, processes killed with SIGKILL mid-save): no save fails because of
/// another writer, the file always loads as one whole save, and no temporary file outlives its writer for longer than
/// the next save. Targets that are not regular files are refused and left as they are.
/// </summary>
public sealed class AtomicSaveTests : IDisposable
{
    readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    string[] Temporaries() => Directory.GetFiles(_dir.Path, "*.tmp", new EnumerationOptions { AttributesToSkip = 0 });

    static Process StartWorker(string path, int writer, int saves)
    {
        string dotnet = Environment.ProcessPath is { } host && Path.GetFileNameWithoutExtension(host) == "dotnet" ? host : "dotnet";
        var start = new ProcessStartInfo(dotnet)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[] { typeof(SaveWorker).Assembly.Location, SaveWorker.Command, path, writer.ToString(), saves.ToString() })
            start.ArgumentList.Add(arg);
        return Process.Start(start)!;
    }

    [Fact]
    public void Threads_saving_to_one_path_never_fail_and_the_file_always_loads_whole()
    {
        string path = _dir.File("shared.safetensors");
        SafeTensors.Save(path, SaveWorker.Store());
        const int Writers = 4, Saves = 15;
        var errors = new ConcurrentQueue<Exception>();
        var writers = Enumerable.Range(1, Writers).Select(w => Start(() =>
        {
            var store = SaveWorker.Store();
            for (int i = 0; i < Saves; i++)
            {
                SaveWorker.Fill(store, w, i);
                try { SafeTensors.Save(path, store); }
                catch (Exception e) { errors.Enqueue(e); }
            }
        })).ToArray();
        var reader = SaveWorker.Store();
        int loads = 0;
        while (writers.Any(t => t.IsAlive))
        {
            SaveWorker.LoadWhole(path, reader);
            loads++;
        }
        foreach (var t in writers) t.Join();
        Assert.True(errors.IsEmpty, $"{errors.Count} of {Writers * Saves} saves failed; the first: {errors.FirstOrDefault()}");
        Assert.True(loads > 0);
        SaveWorker.LoadWhole(path, reader);
        Assert.Equal(Saves - 1, reader.Values[0] % 100_000);   // the last save of some writer won
        Assert.Empty(Temporaries());
    }

    static Thread Start(Action action)
    {
        var thread = new Thread(() => action()) { IsBackground = true };
        thread.Start();
        return thread;
    }

    [Fact]
    public async Task Processes_saving_to_one_path_never_fail_and_the_file_always_loads_whole()
    {
        string path = _dir.File("shared.safetensors");
        SafeTensors.Save(path, SaveWorker.Store());
        const int Processes = 3, Saves = 20;
        var workers = Enumerable.Range(1, Processes).Select(w => StartWorker(path, w, Saves)).ToArray();
        var outputs = workers.Select(w => (Out: w.StandardOutput.ReadToEndAsync(), Err: w.StandardError.ReadToEndAsync())).ToArray();
        // This process writes too, from a thread, while its main thread reads.
        Exception? ownError = null;
        var own = Start(() =>
        {
            var store = SaveWorker.Store();
            for (int i = 0; i < Saves; i++)
            {
                SaveWorker.Fill(store, 9, i);
                try { SafeTensors.Save(path, store); }
                catch (Exception e) { ownError ??= e; }
            }
        });
        var reader = SaveWorker.Store();
        var deadline = DateTime.UtcNow.AddMinutes(5);
        int loads = 0;
        while ((own.IsAlive || workers.Any(w => !w.HasExited)) && DateTime.UtcNow < deadline)
        {
            SaveWorker.LoadWhole(path, reader);
            loads++;
        }
        foreach (var w in workers)
        {
            if (!w.WaitForExit(60_000)) w.Kill();
        }
        own.Join();
        for (int i = 0; i < Processes; i++)
        {
            string output = await outputs[i].Out + await outputs[i].Err;
            Assert.True(workers[i].ExitCode == 0, $"writer process {i + 1} exited with {workers[i].ExitCode}:\n{output}");
        }
        Assert.Null(ownError);
        Assert.True(loads > 0);
        SaveWorker.LoadWhole(path, reader);
        Assert.Empty(Temporaries());
    }

    [Fact]
    public void A_writer_killed_mid_save_leaves_a_loadable_file_and_the_next_save_removes_its_temporary_file()
    {
        string path = _dir.File("killed.safetensors");
        var first = SaveWorker.Store();
        SaveWorker.Fill(first, 0, 0);
        SafeTensors.Save(path, first);
        var reader = SaveWorker.Store();
        int stale = 0;
        for (int round = 0; round < 4; round++)
        {
            using var worker = StartWorker(path, round + 1, 1_000_000);
            // Kill it while its temporary file exists, that is in the middle of a save.
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (Temporaries().Length == 0 && !worker.HasExited && DateTime.UtcNow < deadline) Thread.Sleep(1);
            if (worker.HasExited) Assert.Fail($"the writer exited with {worker.ExitCode}: {worker.StandardError.ReadToEnd()}");
            worker.Kill();   // SIGKILL: no finally, no cleanup
            worker.WaitForExit();
            SaveWorker.LoadWhole(path, reader);
            if (Temporaries().Length > 0) stale++;
        }
        Assert.True(stale > 0, "no kill landed while a temporary file existed, so this test checked no cleanup");
        var store = SaveWorker.Store();
        SaveWorker.Fill(store, 7, 7);
        SafeTensors.Save(path, store);   // the writers are dead: their temporary files go
        Assert.Empty(Temporaries());
        SaveWorker.LoadWhole(path, reader);
        Assert.Equal(SaveWorker.Mark(7, 7), reader.Values[0]);
    }

    [Fact]
    public void A_save_removes_only_temporary_files_of_dead_writers_on_this_host()
    {
        string path = Path.GetFullPath(_dir.File("target.safetensors"));
        using var exited = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        exited.WaitForExit();
        string dead = AtomicFile.TemporaryPath(path, exited.Id, 1);
        string alive = AtomicFile.TemporaryPath(path, Environment.ProcessId, 2);     // another thread of this process
        string parent = AtomicFile.TemporaryPath(path, 1, 3);                         // pid 1 always runs
        string otherTarget = AtomicFile.TemporaryPath(_dir.File("other.safetensors"), exited.Id, 4);
        string fileName = Path.GetFileName(dead);
        string otherHost = Path.Combine(_dir.Path, fileName.Replace("." + exited.Id + ".", "-elsewhere." + exited.Id + ".", StringComparison.Ordinal));
        foreach (string f in new[] { dead, alive, parent, otherTarget, otherHost }) File.WriteAllText(f, "partial");
        SafeTensors.Save(path, SaveWorker.Store());
        Assert.False(File.Exists(dead));
        Assert.True(File.Exists(alive));
        Assert.True(File.Exists(parent));
        Assert.True(File.Exists(otherTarget));
        Assert.True(File.Exists(otherHost));
    }

    [Fact]
    public void A_failed_save_deletes_its_own_temporary_file_and_no_other()
    {
        string path = Path.GetFullPath(_dir.File("keep.safetensors"));
        SafeTensors.Save(path, SaveWorker.Store());
        string another = AtomicFile.TemporaryPath(path, Environment.ProcessId, 5);   // a concurrent writer's file
        File.WriteAllText(another, "in progress");
        Assert.Throws<IOException>(() => SafeTensors.Save(path, SaveWorker.Store(), null, afterHeader: () => throw new IOException("disk full (injected)")));
        Assert.Equal(new[] { another }, Temporaries());
    }

    static void MakeFifo(string path)
    {
        using var mkfifo = Process.Start(new ProcessStartInfo("mkfifo", path) { UseShellExecute = false })!;
        mkfifo.WaitForExit();
        Assert.Equal(0, mkfifo.ExitCode);
    }

    [Fact]
    public void A_fifo_is_refused_and_left_in_place()
    {
        string path = _dir.File("pipe.safetensors");
        MakeFifo(path);
        var e = Assert.Throws<IOException>(() => SafeTensors.Save(path, SaveWorker.Store()));
        Assert.Contains(path, e.Message);
        Assert.Contains("FIFO", e.Message);
        Assert.Equal("FIFO (named pipe)", AtomicFile.NonRegularKind(path));
        var idx = Assert.Throws<IOException>(() => Idx.Write(path, new[] { 2 }, new byte[] { 1, 2 }));
        Assert.Contains("FIFO", idx.Message);
        Assert.Empty(Temporaries());
    }

    [Fact]
    public void A_link_to_a_device_is_refused_and_neither_is_replaced()
    {
        // Never /dev/null itself: a save that failed to refuse would replace the machine's /dev/null.
        string link = _dir.File("null.safetensors");
        File.CreateSymbolicLink(link, "/dev/null");
        var e = Assert.Throws<IOException>(() => SafeTensors.Save(link, SaveWorker.Store()));
        Assert.Contains(link, e.Message);
        Assert.Contains("character device", e.Message);
        var idx = Assert.Throws<IOException>(() => Idx.Write(link, new[] { 2 }, new byte[] { 1, 2 }));
        Assert.Contains("character device", idx.Message);
        Assert.Equal("/dev/null", new FileInfo(link).LinkTarget);
        Assert.Equal("character device", AtomicFile.NonRegularKind("/dev/null"));
        Assert.Empty(Temporaries());
    }

    [Fact]
    public void A_directory_is_refused_and_left_in_place()
    {
        string path = _dir.File("dir.safetensors");
        Directory.CreateDirectory(path);
        File.WriteAllText(Path.Combine(path, "inside"), "x");
        var e = Assert.Throws<IOException>(() => SafeTensors.Save(path, SaveWorker.Store()));
        Assert.Contains(path, e.Message);
        Assert.Contains("directory", e.Message);
        Assert.True(File.Exists(Path.Combine(path, "inside")));
        Assert.Empty(Temporaries());
    }

    [Fact]
    public void A_regular_file_and_a_link_to_one_are_regular()
    {
        string file = _dir.File("plain.safetensors");
        Assert.Null(AtomicFile.NonRegularKind(file));   // absent
        File.WriteAllText(file, "x");
        Assert.Null(AtomicFile.NonRegularKind(file));
        string link = _dir.File("link.safetensors");
        File.CreateSymbolicLink(link, file);
        Assert.Null(AtomicFile.NonRegularKind(link));
        SafeTensors.Save(link, SaveWorker.Store());
        SaveWorker.LoadWhole(link, SaveWorker.Store());
    }
}
