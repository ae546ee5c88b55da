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
    const string OpenBlasOpenMp = "/usr/lib/x86_64-linux-gnu/openblas-openmp";
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    sealed record Settings(bool Quick, bool Peer, int Threads)
    {
        public int Windows => Quick ? 5 : 9;
        public int TrainSteps => Quick ? 100 : 300;
        public int WarmupSteps => Quick ? 50 : 200;
        public int Infer1Calls => Quick ? 2000 : 5000;
        public int Infer256Calls => Quick ? 50 : 200;
        public int GemmCalls => Quick ? 5 : 10;
        public long FmaIterations => Quick ? 30_000_000 : 60_000_000;
    }

    /// <summary>One workload's ModelGen figure (or the reason it has none).</summary>
    sealed record Result(string Name, double? Value, string Unit, bool LowerIsBetter, string? Missing = null);

    /// <summary>Runs the comparison and prints the table; returns the process exit code.</summary>
    public static int Run(string[] args)
    {
        bool quick = args.Contains("--quick");
        bool peer = !args.Contains("--no-peer");
        int threads = 2;
        int ti = Array.IndexOf(args, "--threads");
        if (ti >= 0 && (ti + 1 >= args.Length || !int.TryParse(args[ti + 1], out threads) || threads < 1))
        {
            Console.Error.WriteLine("--threads takes a positive integer.");
            return 2;
        }
        var settings = new Settings(quick, peer, threads);
        var total = Stopwatch.StartNew();
        CpuFeatures.Threads = threads;

        string? dataDir = FindData();
        Dataset train = dataDir != null ? FashionMnist.Load(dataDir).Train : Synthetic(60000);

        Console.WriteLine($"# modelgen compare{(quick ? " --quick" : "")}: {Environment.ProcessorCount} cores, {threads} threads, SIMD {CpuFeatures.Level}, " +
                          $".NET {Environment.Version}, data {(dataDir != null ? "Fashion-MNIST " + dataDir : "synthetic 60000x784")}");

        // The limit first, on an idle machine: one FMA thread per core.
        double peak = Median(Enumerable.Range(0, settings.Windows).Select(_ => FmaPeak.Measure(Environment.ProcessorCount, settings.FmaIterations)));
        var results = new List<Result>
        {
            MlpTrain(train, settings),
            new("fashion_cnn_train_b64", null, "samples/s", false, CnnMissingReason()),
        };
        results.AddRange(MlpInfer(train, settings));
        double gemm = Sgemm1024(settings);
        results.Add(new Result("sgemm_1024", gemm, "GFLOP/s", false));

        var peerValues = new Dictionary<string, double>(StringComparer.Ordinal);
        var peerNotes = new List<string>();
        if (peer)
            RunPeer(settings, dataDir, peerValues, peerNotes);
        else
            peerNotes.Add("# peer: skipped (--no-peer); ModelGen figures only");

        foreach (var note in peerNotes)
            Console.WriteLine(note);
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

    /// <summary>Why there is no ModelGen CNN figure yet (the hook for the Fashion-MNIST CNN of the samples).</summary>
    static string CnnMissingReason() =>
        typeof(ModelBase).Assembly.GetType("ModelGen.Conv2d") == null
            ? "ModelGen has no Conv2d layer yet (ModelGen.Conv2d is absent from the runtime), so the samples have no CNN to compare"
            : "ModelGen.Conv2d exists but the benchmark's CNN model is not added yet: add the samples' CNN as a [Model] in Benchmarks/Models and a workload in Compare.cs and torch_peer.py";

    /// <summary>
    /// Training throughput of the MLP at batch 64: shuffled batches copied in by <see cref="BatchLoader"/>, the compiled
    /// TrainStep and AdamW (the loop of <c>Fit</c>, without its metrics); samples/s of fixed step windows.
    /// </summary>
    static Result MlpTrain(Dataset train, Settings s)
    {
        const int batch = 64;
        var model = new BenchMlp(seed: 1);
        var program = model.CreateProgram(batch);
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
        for (int i = 0; i < s.WarmupSteps; i++) Step();
        double seconds = MedianWindow(Step, s.Windows, s.TrainSteps);
        return new Result("fashion_mlp_train_b64", s.TrainSteps * batch / seconds, "samples/s", false);
    }

    /// <summary>Inference of the MLP: median latency of one sample, and throughput at batch 256.</summary>
    static IEnumerable<Result> MlpInfer(Dataset data, Settings s)
    {
        var model = new BenchMlp(seed: 1);
        var program = model.CreateProgram(256);
        var x1 = data.Features.AsMemory(0, 784);
        var x256 = data.Features.AsMemory(0, 256 * 784);
        var y = new float[256 * 10];
        void One() => program.Infer(x1.Span, 1, y.AsSpan(0, 10));
        void Batch() => program.Infer(x256.Span, 256, y);
        for (int i = 0; i < 2000; i++) One();
        double one = MedianWindow(One, s.Windows, s.Infer1Calls) / s.Infer1Calls;
        for (int i = 0; i < 20; i++) Batch();
        double many = MedianWindow(Batch, s.Windows, s.Infer256Calls) / s.Infer256Calls;
        yield return new Result("mlp_infer_b1_latency", one * 1e6, "us", true);
        yield return new Result("mlp_infer_b256", 256 / many, "samples/s", false);
    }

    /// <summary>C = A·B at 1024³ with <see cref="Gemm.Sgemm"/>; GFLOP/s.</summary>
    static double Sgemm1024(Settings s)
    {
        const int n = 1024;
        var rng = new Random(42);
        var a = new float[n * n];
        var b = new float[n * n];
        var c = new float[n * n];
        for (int i = 0; i < a.Length; i++) { a[i] = rng.NextSingle() * 2 - 1; b[i] = rng.NextSingle() * 2 - 1; }
        void Run() => Gemm.Sgemm(false, false, n, n, n, a, n, b, n, c, n);
        for (int i = 0; i < 3; i++) Run();
        double seconds = MedianWindow(Run, s.Windows, s.GemmCalls) / s.GemmCalls;
        return 2.0 * n * n * n / seconds / 1e9;
    }

    /// <summary>The median over <paramref name="windows"/> windows of the seconds <paramref name="perWindow"/> calls take.</summary>
    static double MedianWindow(Action action, int windows, int perWindow)
    {
        var times = new double[windows];
        for (int w = 0; w < windows; w++)
        {
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < perWindow; i++) action();
            times[w] = Stopwatch.GetElapsedTime(start).TotalSeconds;
        }
        return Median(times);
    }

    static double Median(IEnumerable<double> values)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        int m = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
    }

    /// <summary>Runs the PyTorch peer and collects its <c>peer name value unit</c> lines; notes say what happened.</summary>
    static void RunPeer(Settings s, string? dataDir, Dictionary<string, double> values, List<string> notes)
    {
        string script = Path.Combine(AppContext.BaseDirectory, "peer", "torch_peer.py");
        if (!File.Exists(Python))
        {
            notes.Add($"# peer: PyTorch not available ({Python} is missing; run scripts/bench.sh to install python3-torch); ModelGen figures only");
            return;
        }
        if (!File.Exists(script))
        {
            notes.Add($"# peer: {script} is missing; ModelGen figures only");
            return;
        }
        var psi = new ProcessStartInfo(Python)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
        {
            script, "--threads", s.Threads.ToString(Inv), "--data-dir", dataDir ?? "", "--windows", s.Windows.ToString(Inv),
            "--train-steps", s.TrainSteps.ToString(Inv), "--warmup-steps", s.WarmupSteps.ToString(Inv),
            "--infer1-calls", s.Infer1Calls.ToString(Inv), "--infer256-calls", s.Infer256Calls.ToString(Inv),
            "--gemm-calls", s.GemmCalls.ToString(Inv),
        })
            psi.ArgumentList.Add(arg);
        psi.Environment["OMP_NUM_THREADS"] = s.Threads.ToString(Inv);
        psi.Environment["OPENBLAS_NUM_THREADS"] = s.Threads.ToString(Inv);
        bool openBlas = Directory.Exists(OpenBlasOpenMp);
        if (openBlas)
            psi.Environment["LD_LIBRARY_PATH"] = OpenBlasOpenMp;
        else
            notes.Add($"# peer: warning: {OpenBlasOpenMp} is missing (install libopenblas0-openmp); Debian's torch then uses the slow reference BLAS");

        string stdout, stderr;
        int exit;
        try
        {
            using var process = Process.Start(psi)!;
            var errTask = process.StandardError.ReadToEndAsync();
            stdout = process.StandardOutput.ReadToEnd();
            if (!process.WaitForExit(240_000))
            {
                process.Kill(entireProcessTree: true);
                notes.Add("# peer: PyTorch run timed out after 240 s; ModelGen figures only");
                return;
            }
            stderr = errTask.Result;
            exit = process.ExitCode;
        }
        catch (Exception e)
        {
            notes.Add($"# peer: could not start {Python}: {e.Message}; ModelGen figures only");
            return;
        }

        foreach (var raw in stdout.Split('\n'))
        {
            var parts = raw.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 0) continue;
            if (parts[0] == "peer" && parts.Length >= 3 && double.TryParse(parts[2], NumberStyles.Float, Inv, out double v))
                values[parts[1]] = v;
            else if (parts[0] == "peer_info")
                notes.Add("# peer: " + string.Join(' ', parts.Skip(1)));
            else if (parts[0] == "peer_error")
                notes.Add("# peer: error: " + string.Join(' ', parts.Skip(1)));
        }
        if (exit != 0)
        {
            string why = stderr.Contains("No module named 'torch'", StringComparison.Ordinal)
                ? "PyTorch is not installed (apt-get install python3-torch, or run scripts/bench.sh)"
                : $"exit code {exit}: {LastLine(stderr)}";
            notes.Add($"# peer: PyTorch run failed ({why}); {(values.Count == 0 ? "ModelGen figures only" : "partial peer figures")}");
        }
    }

    static string LastLine(string text)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return lines.Length == 0 ? "no output" : lines[^1].Trim();
    }
}
