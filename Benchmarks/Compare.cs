using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using ModelGen.Cpu;

namespace ModelGen.Benchmarks;

/// <summary>
/// <c>dotnet run -c Release --project Benchmarks -- compare [--quick] [--no-peer] [--threads N]</c>: the same workloads
/// in ModelGen and in PyTorch (Benchmarks/peer/torch_peer.py, run by /usr/bin/python3 with 2 threads and Debian's
/// openblas-openmp), in one run, printed one line per workload as <c>name modelgen_value peer_value ratio unit</c>.
/// The ratio is oriented so that above 1 means ModelGen is better: modelgen/peer for throughputs, peer/modelgen for
/// latencies. Lines starting with <c>#</c> are comments (set-up, reasons for n/a). Every figure is the median of
/// several timed windows after a warm-up.
/// </summary>
public static class Compare
{
    const string Python = "/usr/bin/python3";
    const int PeerBudgetSeconds = 200;
    const string OpenBlasOpenMp = "/usr/lib/x86_64-linux-gnu/openblas-openmp";
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    sealed record Settings(bool Quick, bool Peer, int Threads)
    {
        public int Windows => Quick ? 5 : 9;
        public int TrainSteps => Quick ? 100 : 300;
        /// <summary>The peer's warm-up (PyTorch has no JIT to wait for); ModelGen's is <see cref="WarmUp"/>.</summary>
        public int WarmupSteps => Quick ? 50 : 200;
        public int CnnTrainSteps => Quick ? 10 : 20;
        public int Infer1Calls => Quick ? 2000 : 5000;
        public int Infer256Calls => Quick ? 50 : 200;
        public int GemmCalls => Quick ? 5 : 10;
        public long FmaIterations => Quick ? 30_000_000 : 60_000_000;
        /// <summary>The least warm-up of every workload, in both modes (see <see cref="WarmUp"/>).</summary>
        public double MinWarmupSeconds => 1.5;
        public double MaxWarmupSeconds => Quick ? 3 : 5;
    }

    /// <summary>One workload's ModelGen figure (or the reason it has none).</summary>
    sealed record Result(string Name, double? Value, string Unit, bool LowerIsBetter, string? Missing = null);

    /// <summary>Runs the comparison and prints the table; returns the process exit code.</summary>
    public static int Run(string[] args)
    {
        bool quick = args.Contains("--quick");
        bool usePeer = !args.Contains("--no-peer");
        int threads = 2;
        int ti = Array.IndexOf(args, "--threads");
        if (ti >= 0 && (ti + 1 >= args.Length || !int.TryParse(args[ti + 1], out threads) || threads < 1))
        {
            Console.Error.WriteLine("--threads takes a positive integer.");
            return 2;
        }
        var settings = new Settings(quick, usePeer, threads);
        var peaks = new List<double>();
        var total = Stopwatch.StartNew();
        CpuFeatures.Threads = threads;

        string? dataDir = FindData();
        Dataset train = dataDir != null ? FashionMnist.Load(dataDir).Train : Synthetic(60000);

        Console.WriteLine($"# modelgen compare{(quick ? " --quick" : "")}: {Environment.ProcessorCount} cores, {threads} threads, SIMD {CpuFeatures.Level}, " +
                          $".NET {Environment.Version}, data {(dataDir != null ? "Fashion-MNIST " + dataDir : "synthetic 60000x784")}");

        var peerNotes = new List<string>();
        using var peer = settings.Peer ? Peer.Start(settings, dataDir, peerNotes) : null;
        if (!settings.Peer)
            peerNotes.Add("# peer: skipped (--no-peer); ModelGen figures only");

        // Each workload: a warm-up, then windows that alternate ModelGen and the peer, so that both see the same
        // machine; the FMA limit is measured in a window beside each GEMM window.
        var results = new List<Result>();
        var warmups = new List<string>();
        var peerValues = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var w in Workloads(train, settings))
        {
            if (w.Run == null)
            {
                results.Add(new Result(w.Name, null, w.Unit, w.LowerIsBetter, w.Missing));
                continue;
            }
            warmups.Add($"{w.Name} {WarmUp(w, settings).ToString("F1", Inv)} s");
            var mine = new double[settings.Windows];
            var theirs = new List<double>();
            for (int i = 0; i < settings.Windows; i++)
            {
                if (peer != null)
                    Settle(AfterPeerMilliseconds);
                long start = Stopwatch.GetTimestamp();
                for (int c = 0; c < w.PerWindow; c++) w.Run();
                mine[i] = Stopwatch.GetElapsedTime(start).TotalSeconds;
                // A machine so loaded that the peer would push the run past 5 minutes: its later windows are skipped.
                if (peer != null)
                    Settle(AfterModelGenMilliseconds);
                if (total.Elapsed.TotalSeconds < PeerBudgetSeconds && peer?.Time(w.Name, w.PerWindow) is double t)
                    theirs.Add(t);
                if (w.Name == "sgemm_1024")
                    peaks.Add(FmaPeak.Measure(Environment.ProcessorCount, settings.FmaIterations));
            }
            results.Add(new Result(w.Name, w.Value(Median(mine)), w.Unit, w.LowerIsBetter));
            if (theirs.Count > 0)
                peerValues[w.Name] = w.Value(Median(theirs));
            if (peer != null && theirs.Count < settings.Windows && total.Elapsed.TotalSeconds >= PeerBudgetSeconds)
                peerNotes.Add($"# peer: {w.Name}: {theirs.Count} of {settings.Windows} windows (the {PeerBudgetSeconds} s budget for the run was spent; " +
                              "on a loaded machine try OMP_WAIT_POLICY=PASSIVE, which keeps libgomp's spinning threads from collapsing)");
        }
        double peak = Median(peaks);
        double gemm = results.First(r => r.Name == "sgemm_1024").Value ?? 0;
        peer?.Notes(peerNotes);

        foreach (var note in peerNotes)
            Console.WriteLine(note);
        Console.WriteLine($"# warm-up (until >= {settings.MinWarmupSeconds.ToString("F1", Inv)} s and two windows within 5 %): {string.Join(", ", warmups)}");
        Console.WriteLine("# name modelgen_value peer_value ratio unit   (ratio > 1 means ModelGen is better: modelgen/peer for throughput, peer/modelgen for latency)");
        foreach (var r in results)
        {
            if (r.Value is not double mine)
            {
                Console.WriteLine($"{r.Name} n/a n/a n/a {r.Unit}");
                Console.WriteLine($"#   {r.Name}: {r.Missing}");
                continue;
            }
            string peerText = "n/a", ratioText = "n/a";
            if (peerValues.TryGetValue(r.Name, out double theirs) && theirs > 0 && mine > 0)
            {
                peerText = Format(theirs);
                ratioText = (r.LowerIsBetter ? theirs / mine : mine / theirs).ToString("F2", Inv);
            }
            Console.WriteLine($"{r.Name} {Format(mine)} {peerText} {ratioText} {r.Unit}");
        }
        // Fractions of the measured limit (the peer's GEMM against the same peak, measured in this run).
        string peerFraction = peerValues.TryGetValue("sgemm_1024", out double peerGemm) ? (peerGemm / peak).ToString("F3", Inv) : "n/a";
        string fractionRatio = peerValues.TryGetValue("sgemm_1024", out peerGemm) && peerGemm > 0 ? (gemm / peerGemm).ToString("F2", Inv) : "n/a";
        Console.WriteLine($"sgemm_1024_of_peak {(gemm / peak).ToString("F3", Inv)} {peerFraction} {fractionRatio} fraction");
        Console.WriteLine($"fma_peak {Format(peak)} n/a n/a GFLOP/s");
        Console.WriteLine($"# total {total.Elapsed.TotalSeconds.ToString("F1", Inv)} s");
        return 0;
    }

    /// <summary>
    /// Runs windows of the workload until at least <see cref="Settings.MinWarmupSeconds"/> have passed and the last two
    /// windows agree within 5 % (or <see cref="Settings.MaxWarmupSeconds"/> have passed); returns the seconds spent.
    /// A fixed number of calls is not enough: .NET's tiered JIT recompiles hot methods with optimizations (and
    /// profile-guided ones) in the background for about the first second of a process, and in that time the MLP
    /// training step runs at half speed (50 quick warm-up steps, ~15 ms, left <c>compare --quick</c> at 85–148k
    /// samples/s against ~210k once warm).
    /// </summary>
    static double WarmUp(Workload w, Settings s)
    {
        var elapsed = Stopwatch.StartNew();
        double previous = double.NaN;
        while (true)
        {
            long start = Stopwatch.GetTimestamp();
            for (int c = 0; c < w.PerWindow; c++) w.Run!();
            double t = Stopwatch.GetElapsedTime(start).TotalSeconds;
            double spent = elapsed.Elapsed.TotalSeconds;
            if (spent >= s.MaxWarmupSeconds || (spent >= s.MinWarmupSeconds && Math.Abs(t - previous) <= 0.05 * previous))
                return spent;
            previous = t;
        }
    }

    /// <summary>
    /// A pause before every timed window, so that the other side's idle threads have gone to sleep: libgomp's threads
    /// spin after a parallel region by default (OMP_WAIT_POLICY unset; tens of milliseconds and more on a busy
    /// machine), ModelGen's workers for 5 ms, and either would otherwise take a core from the next window.
    /// </summary>
    static void Settle(int milliseconds) => System.Threading.Thread.Sleep(milliseconds);

    const int AfterPeerMilliseconds = 200, AfterModelGenMilliseconds = 20;

    static string Format(double v) => v >= 100 ? v.ToString("F1", Inv) : v.ToString("F3", Inv);

    static string? FindData()
    {
        try { return FashionMnist.FindDirectory(); }
        catch (FileNotFoundException) { return null; }
    }

    /// <summary>Uniform pixels in [0, 1) and uniform labels, the shape of Fashion-MNIST's training set.</summary>
    static Dataset Synthetic(int count)
    {
        var rng = new Random(1);
        var x = new float[count * 784];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextSingle();
        var y = new int[count];
        for (int i = 0; i < y.Length; i++) y[i] = rng.Next(10);
        return new Dataset(x, new[] { 784 }, y, 10);
    }

    /// <summary>A workload: its ModelGen body (null with a reason when ModelGen cannot run it), calls per window, and
    /// the conversion of a window's seconds into the reported value.</summary>
    sealed record Workload(string Name, string Unit, bool LowerIsBetter, int PerWindow, Action? Run, Func<double, double> Value,
        string? Missing = null);

    static IEnumerable<Workload> Workloads(Dataset train, Settings s)
    {
        yield return MlpTrain(train, s);
        yield return CnnTrain(train, s);
        foreach (var w in MlpInfer(train, s))
            yield return w;
        yield return Sgemm1024(s);
    }

    /// <summary>
    /// Training throughput of the MLP at batch 64: shuffled batches copied in by <see cref="BatchLoader"/>, the compiled
    /// TrainStep and AdamW (the loop of <c>Fit</c>, without its metrics); samples/s of fixed step windows.
    /// </summary>
    static Workload MlpTrain(Dataset train, Settings s)
    {
        var model = new BenchMlp(seed: 1);
        return Train("fashion_mlp_train_b64", model, model.CreateProgram(64), train, s.TrainSteps);
    }

    /// <summary>
    /// Training throughput of the samples' CNN (<see cref="BenchCnn"/>) at batch 64, the loop of <see cref="MlpTrain"/>
    /// with fewer steps per window (a CNN step is some 30 times an MLP step).
    /// </summary>
    static Workload CnnTrain(Dataset train, Settings s)
    {
        var model = new BenchCnn(seed: 1);
        return Train("fashion_cnn_train_b64", model, model.CreateProgram(64), train, s.CnnTrainSteps);
    }

    /// <summary>Shuffled batches of 64 copied in by <see cref="BatchLoader"/>, TrainStep and AdamW.Step; samples/s.</summary>
    static Workload Train(string name, ModelBase model, CompiledProgram program, Dataset train, int steps)
    {
        const int batch = 64;
        var optimizer = new AdamW(1e-3f);
        var loader = new BatchLoader(train, batch, shuffle: true, seed: 1);
        int epoch = 0, next = 0;
        loader.StartEpoch(epoch);
        void Step()
        {
            if (next == loader.BatchCount || loader.Load(next) < batch)
            {
                loader.StartEpoch(++epoch);
                next = 0;
                loader.Load(next);
            }
            next++;
            program.TrainStep(loader.Input, loader.Labels, default, batch, default);
            optimizer.Step(model.Parameters);
        }
        return new Workload(name, "samples/s", false, steps, Step, t => steps * batch / t);
    }

    /// <summary>Inference of the MLP: latency of one sample, and throughput at batch 256.</summary>
    static IEnumerable<Workload> MlpInfer(Dataset data, Settings s)
    {
        var model = new BenchMlp(seed: 1);
        var program = model.CreateProgram(256);
        var x1 = data.Features.AsMemory(0, 784);
        var x256 = data.Features.AsMemory(0, 256 * 784);
        var y = new float[256 * 10];
        void One() => program.Infer(x1.Span, 1, y.AsSpan(0, 10));
        void Batch() => program.Infer(x256.Span, 256, y);
        yield return new Workload("mlp_infer_b1_latency", "us", true, s.Infer1Calls, One, t => t / s.Infer1Calls * 1e6);
        yield return new Workload("mlp_infer_b256", "samples/s", false, s.Infer256Calls, Batch, t => s.Infer256Calls * 256 / t);
    }

    /// <summary>C = A·B at 1024³ with <see cref="Gemm.Sgemm"/>; GFLOP/s.</summary>
    static Workload Sgemm1024(Settings s)
    {
        const int n = 1024;
        var rng = new Random(42);
        var a = new float[n * n];
        var b = new float[n * n];
        var c = new float[n * n];
        for (int i = 0; i < a.Length; i++) { a[i] = rng.NextSingle() * 2 - 1; b[i] = rng.NextSingle() * 2 - 1; }
        void Run() => Gemm.Sgemm(false, false, n, n, n, a, n, b, n, c, n);
        return new Workload("sgemm_1024", "GFLOP/s", false, s.GemmCalls, Run, t => 2.0 * n * n * n * s.GemmCalls / t / 1e9);
    }

    static double Median(IEnumerable<double> values)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        if (sorted.Length == 0) return double.NaN;
        int m = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
    }

    /// <summary>
    /// The PyTorch process: started once, it loads the data and warms up, then times windows on request
    /// (<c>workload calls</c> → <c>t seconds</c>). Any failure ends it and the run goes on with ModelGen's figures.
    /// </summary>
    sealed class Peer : IDisposable
    {
        readonly Process _process;
        readonly List<string> _notes = new();
        readonly System.Threading.Tasks.Task<string> _stderr;
        bool _failed;

        Peer(Process process)
        {
            _process = process;
            _stderr = process.StandardError.ReadToEndAsync();
        }

        public static Peer? Start(Settings s, string? dataDir, List<string> notes)
        {
            string script = Path.Combine(AppContext.BaseDirectory, "peer", "torch_peer.py");
            if (!File.Exists(Python))
            {
                notes.Add($"# peer: PyTorch not available ({Python} is missing; run scripts/bench.sh to install python3-torch); ModelGen figures only");
                return null;
            }
            if (!File.Exists(script))
            {
                notes.Add($"# peer: {script} is missing; ModelGen figures only");
                return null;
            }
            var psi = new ProcessStartInfo(Python)
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var arg in new[] { script, "--threads", s.Threads.ToString(Inv), "--data-dir", dataDir ?? "", "--warmup-steps", s.WarmupSteps.ToString(Inv) })
                psi.ArgumentList.Add(arg);
            psi.Environment["OMP_NUM_THREADS"] = s.Threads.ToString(Inv);
            psi.Environment["OPENBLAS_NUM_THREADS"] = s.Threads.ToString(Inv);
            if (Directory.Exists(OpenBlasOpenMp))
                psi.Environment["LD_LIBRARY_PATH"] = OpenBlasOpenMp;
            else
                notes.Add($"# peer: warning: {OpenBlasOpenMp} is missing (install libopenblas0-openmp); Debian's torch then uses the slow reference BLAS");
            Peer peer;
            try
            {
                peer = new Peer(Process.Start(psi)!);
            }
            catch (Exception e)
            {
                notes.Add($"# peer: could not start {Python}: {e.Message}; ModelGen figures only");
                return null;
            }
            while (true)
            {
                string? line = peer.ReadLine();
                if (line == null)
                {
                    peer.Notes(notes);
                    peer.Dispose();
                    return null;
                }
                if (line == "ready")
                    return peer;
            }
        }

        /// <summary>Reads the next line, collecting info and error lines; null when the process has ended or failed.</summary>
        string? ReadLine()
        {
            if (_failed) return null;
            while (true)
            {
                string? raw = _process.StandardOutput.ReadLine();
                if (raw == null)
                {
                    Fail();
                    return null;
                }
                var line = raw.Trim();
                if (line.StartsWith("peer_info ", StringComparison.Ordinal))
                    _notes.Add("# peer: " + line.Substring(10));
                else if (line.StartsWith("peer_error ", StringComparison.Ordinal))
                    _notes.Add("# peer: error: " + line.Substring(11));
                else
                    return line;
            }
        }

        void Fail()
        {
            if (_failed) return;
            _failed = true;
            string stderr = _process.WaitForExit(10_000) ? _stderr.Result : "";
            string why = stderr.Contains("No module named 'torch'", StringComparison.Ordinal)
                ? "PyTorch is not installed (apt-get install python3-torch, or run scripts/bench.sh)"
                : _process.HasExited ? $"exit code {_process.ExitCode}: {LastLine(stderr)}" : "no answer";
            _notes.Add($"# peer: PyTorch run failed ({why}); the peer column is n/a from there on");
        }

        /// <summary>Seconds the peer takes for <paramref name="calls"/> calls of <paramref name="workload"/>, or null.</summary>
        public double? Time(string workload, int calls)
        {
            if (_failed) return null;
            try
            {
                _process.StandardInput.WriteLine($"{workload} {calls}");
                _process.StandardInput.Flush();
            }
            catch (IOException)
            {
                Fail();
                return null;
            }
            string? line = ReadLine();
            if (line != null && line.StartsWith("t ", StringComparison.Ordinal)
                && double.TryParse(line.AsSpan(2), NumberStyles.Float, Inv, out double seconds))
                return seconds;
            Fail();
            return null;
        }

        public void Notes(List<string> notes) => notes.AddRange(_notes);

        public void Dispose()
        {
            try
            {
                if (!_process.HasExited)
                {
                    _process.StandardInput.WriteLine("quit");
                    _process.StandardInput.Flush();
                    if (!_process.WaitForExit(5000))
                        _process.Kill(entireProcessTree: true);
                }
            }
            catch (Exception e) when (e is IOException or InvalidOperationException)
            {
            }
            _process.Dispose();
        }
    }

    static string LastLine(string text)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return lines.Length == 0 ? "no output" : lines[^1].Trim();
    }
}
