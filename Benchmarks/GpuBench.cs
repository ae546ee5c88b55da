using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using ModelGen.Cpu;
using ModelGen.Gpu;

namespace ModelGen.Benchmarks;

/// <summary>
/// <c>dotnet run -c Release --project Benchmarks -- gpu [--device ID] [--quick] [--threads N]</c> (or
/// <c>bash scripts/gpu-bench.sh ...</c>): the GPU backend's figures, one line each, in the style of <see cref="Compare"/>:
/// <list type="number">
/// <item><c>sgemm_N</c>: TFLOP/s of <see cref="GpuKernels.Sgemm"/> at N³, and its fraction of the device's FP32
/// (non-tensor-core) peak, the peak given two ways: measured by an FMA-chain kernel (<see cref="FmaChains"/>) and, on
/// CUDA, from the spec (SMs × FP32 lanes per SM × 2 × clock);</item>
/// <item>training samples/s of the Fashion-MNIST MLP and CNN and of the char transformer at batch 64, 256 and 1024,
/// GPU and CPU in the same run (their windows alternate), as <c>name gpu_value cpu_value gpu/cpu unit</c>;</item>
/// <item>a loss check: the MLP and the CNN from the same seed trained on the same batches on both devices, the final
/// losses compared within a stated relative tolerance (<c>loss_check_... pass|FAIL</c>).</item>
/// </list>
/// Lines starting with <c>#</c> are comments. Every figure is the median of several timed windows after a warm-up.
/// With <c>--quick</c> the sizes are tiny (SGEMM 128, batches 8 and 16, 3 windows of 2 steps); on ILGPU's CPU accelerator
/// (<c>gpu-emulator:0</c>, with or without <c>--quick</c>) tinier still, since a tiled kernel is slow there (every group
/// barrier switches threads): the MLP at batches 8 and 16, the CNN and the transformer one timed step at batch 1, and the
/// CNN's loss check 2 steps at batch 1. Tiny figures only show that the code runs. Exit code: 0; 3 when a check failed;
/// 1 when a workload could not run; 2 for bad arguments.
/// </summary>
public static class GpuBench
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The relative tolerance of the loss check: |gpu − cpu| ≤ LossTolerance · |cpu|.</summary>
    const double LossTolerance = 2e-3;

    /// <summary>How big a run is: full (a GPU), <c>--quick</c> on a GPU, or ILGPU's CPU accelerator (tiny either way).</summary>
    enum Mode { Full, Quick, Emulator }

    /// <summary>
    /// One model's throughput workloads: the batch sizes, the timed windows per figure, the steps per window (0: chosen
    /// from a timed step, so that a window takes about the window's seconds), and the untimed steps before the first window
    /// (the first one compiles the kernels; the full mode then warms up further, see <see cref="WarmUp"/>).
    /// </summary>
    sealed record Plan(int[] Batches, int Windows, int StepsPerWindow, int WarmSteps);

    /// <summary>The sizes of one run.</summary>
    sealed record Settings(Mode Mode)
    {
        public bool Tiny => Mode != Mode.Full;
        public int SgemmSize => Tiny ? 128 : 4096;
        public int KernelWindows => Tiny ? 3 : 7;

        /// <summary>
        /// The workloads of a model ("mlp", "cnn", "char"). On the emulator a CNN or transformer step takes some 10 s at
        /// batch 1 on 2 cores (each group barrier of a tiled kernel is a thread switch there), so those two run one step.
        /// </summary>
        public Plan PlanFor(string model) => Mode switch
        {
            Mode.Full => new Plan(new[] { 64, 256, 1024 }, 5, 0, 1),
            Mode.Quick => new Plan(new[] { 8, 16 }, 3, 2, 1),
            _ => model == "mlp" ? new Plan(new[] { 8, 16 }, 2, 1, 1) : new Plan(new[] { 1 }, 1, 1, 0),
        };

        /// <summary>The CPU side's windows at the largest batch of the full mode (fewer: a CPU step at 1024 is long).</summary>
        public int CpuWindowsLargest => 3;

        /// <summary>Seconds a GPU / CPU / SGEMM / FMA window aims at (the full mode's steps per window follow from a timed step).</summary>
        public double GpuWindowSeconds => 0.2;
        public double CpuWindowSeconds => 0.3;
        public double KernelWindowSeconds => Tiny ? 0.05 : 0.1;

        /// <summary>Warm-up of a full-mode workload: at least this long and until two windows agree within 5 %, at most <see cref="MaxWarmupSeconds"/>.</summary>
        public double MinWarmupSeconds => 1.0;
        public double MaxWarmupSeconds => 3.0;

        /// <summary>
        /// Distinct batches cycled through by a throughput workload (made before timing, so no loader is timed; the model
        /// may fit them closely over many steps, which does not change a step's work).
        /// </summary>
        public int BatchPool(int batch) => Tiny ? 2 : batch >= 1024 ? 4 : 8;

        /// <summary>The loss check's batch and steps for a model ("mlp", "cnn").</summary>
        public (int Batch, int Steps) LossCheckFor(string model) => Mode switch
        {
            Mode.Full => (64, 20),
            Mode.Quick => (8, 3),
            _ => model == "mlp" ? (8, 3) : (1, 2),
        };
    }

    /// <summary>Runs the benchmark and prints its lines; returns the process exit code.</summary>
    public static int Run(string[] args)
    {
        bool quick = false;
        string? deviceArg = null;
        int threads = Environment.ProcessorCount;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--quick": quick = true; break;
                case "--device" when i + 1 < args.Length: deviceArg = args[++i]; break;
                case "--threads" when i + 1 < args.Length && int.TryParse(args[i + 1], NumberStyles.None, Inv, out threads) && threads >= 1: i++; break;
                default:
                    Console.Error.WriteLine($"Unknown or incomplete argument '{args[i]}'. Usage: gpu [--device cuda:0|gpu|best|N|gpu-emulator:0] [--quick] [--threads N]");
                    return 2;
            }
        }
        var total = Stopwatch.StartNew();
        CpuFeatures.Threads = threads;

        // The models of this assembly register the backend when their generated code is first touched; register it here
        // too, so that the device list is there before any model is built.
        GpuBackend.Register();
        GpuDevice gpu;
        string how;
        try
        {
            Device chosen;
            if (deviceArg != null)
            {
                chosen = Device.Parse(deviceArg);
                how = $"--device {deviceArg}";
            }
            else
            {
                chosen = Device.Best(out string why);
                how = $"Device.Best(): {why}";
            }
            if (chosen is not GpuDevice g)
            {
                if (deviceArg != null)
                {
                    Console.Error.WriteLine($"--device {deviceArg} is the CPU; the gpu mode measures a GPU (cuda:0, gpu, best, or gpu-emulator:0 for ILGPU's CPU accelerator).");
                    return 2;
                }
                g = (GpuDevice)Device.Parse("gpu-emulator:0");
                how += "; with no GPU the GPU code runs on ILGPU's CPU accelerator instead, at tiny sizes (its figures are not GPU speeds)";
            }
            gpu = g;
            _ = gpu.Accelerator;   // created now, so that a broken driver is reported here, naming the device
        }
        catch (DeviceException e)
        {
            Console.Error.WriteLine(e.Message);
            return 1;
        }

        var s = new Settings(gpu.Kind == DeviceKind.GpuEmulator ? Mode.Emulator : quick ? Mode.Quick : Mode.Full);
        var acc = gpu.Accelerator;
        Console.WriteLine($"# modelgen gpu{(quick ? " --quick" : "")}: device {gpu} ({how})");
        Console.WriteLine($"# device: {acc.AcceleratorType}, {acc.NumMultiprocessors} multiprocessors, at most {acc.MaxNumThreadsPerGroup} threads a group, " +
                          $"{acc.MaxNumThreadsPerMultiprocessor} a multiprocessor, warp {acc.WarpSize}{CudaDetails(acc)}; ILGPU {typeof(Accelerator).Assembly.GetName().Version}");
        Console.WriteLine($"# cpu side: {Environment.ProcessorCount} cores, {CpuFeatures.Threads} threads, SIMD {CpuFeatures.Active}; .NET {Environment.Version}");
        if (s.Tiny)
        {
            string Describe(string m) => $"{m} batch {string.Join("/", s.PlanFor(m).Batches)}, {s.PlanFor(m).Windows} window(s) of {s.PlanFor(m).StepsPerWindow} step(s) after {s.PlanFor(m).WarmSteps} untimed";
            Console.WriteLine($"# tiny sizes ({(s.Mode == Mode.Emulator ? "the emulator" : "--quick")}): SGEMM {s.SgemmSize}; {Describe("mlp")}; {Describe("cnn")}; {Describe("char")}" +
                              $"{(s.Mode == Mode.Emulator ? " (with no untimed step the timed one includes compiling the kernels)" : "")}; the figures show that the code runs, not its speed");
        }
        else
            Console.WriteLine($"# windows: median of {s.PlanFor("mlp").Windows} (CPU at batch {s.PlanFor("mlp").Batches[^1]}: {s.CpuWindowsLargest}), GPU ~{F(s.GpuWindowSeconds)} s and CPU ~{F(s.CpuWindowSeconds)} s each, " +
                              $"GPU and CPU windows alternating; warm-up >= {F(s.MinWarmupSeconds)} s until two windows agree within 5 % (at most {F(s.MaxWarmupSeconds)} s)");

        var data = LoadFashion(out string fashionNote);
        var corpus = LoadCorpus(out string corpusNote);
        Console.WriteLine($"# data: {fashionNote}; char LM: {corpusNote}");

        var lines = new List<string>();
        var notes = new List<string>();
        int exit = 0;

        // 1. SGEMM against the FP32 peak.
        try
        {
            exit = Math.Max(exit, SgemmAndPeak(gpu, s, lines, notes));
        }
        catch (Exception e) when (e is DeviceException or InvalidOperationException or ArgumentException or NotSupportedException)
        {
            lines.Add($"sgemm_{s.SgemmSize} n/a TFLOP/s");
            notes.Add($"#   sgemm_{s.SgemmSize}: {e.GetType().Name}: {e.Message}");
            exit = Math.Max(exit, 1);
        }
        Flush(lines, notes);

        // 2. Training throughput, GPU next to CPU.
        Console.WriteLine("# name gpu_value cpu_value gpu/cpu unit   (training steps: upload, forward, loss, backward, AdamW(1e-3), metrics; the loss read back each step)");
        foreach (int batch in s.PlanFor("mlp").Batches)
        {
            exit = Math.Max(exit, Throughput($"fashion_mlp_train_b{batch}", () => new BenchMlp(seed: 1), FashionBatches(data, batch, s.BatchPool(batch), seed: 1), gpu, s, s.PlanFor("mlp"), batch, lines, notes));
            Flush(lines, notes);
        }
        foreach (int batch in s.PlanFor("cnn").Batches)
        {
            exit = Math.Max(exit, Throughput($"fashion_cnn_train_b{batch}", () => new BenchCnn(seed: 1), FashionBatches(data, batch, s.BatchPool(batch), seed: 1), gpu, s, s.PlanFor("cnn"), batch, lines, notes));
            Flush(lines, notes);
        }
        foreach (int batch in s.PlanFor("char").Batches)
        {
            exit = Math.Max(exit, Throughput($"char_transformer_train_b{batch}", () => new CharTransformerSample.CharTransformer(seed: 1), CharBatches(corpus, batch, s.BatchPool(batch), seed: 1), gpu, s, s.PlanFor("char"), batch, lines, notes));
            Flush(lines, notes);
        }

        // 3. The loss check.
        var (mlpBatch, mlpSteps) = s.LossCheckFor("mlp");
        var (cnnBatch, cnnSteps) = s.LossCheckFor("cnn");
        Console.WriteLine($"# loss check: AdamW(1e-3) steps from seed 1 on the same batches on the GPU and the CPU (MLP {mlpSteps} steps at batch {mlpBatch}, CNN {cnnSteps} at batch {cnnBatch}); " +
                          $"pass when |gpu - cpu| <= {LossTolerance.ToString("0.#e0", Inv)} x |cpu| for the last step's loss");
        Console.WriteLine("# name gpu_value cpu_value gpu/cpu unit");
        exit = Math.Max(exit, LossCheck("fashion_mlp", () => new BenchMlp(seed: 1), data, gpu, mlpBatch, mlpSteps, lines, notes));
        Flush(lines, notes);
        exit = Math.Max(exit, LossCheck("fashion_cnn", () => new BenchCnn(seed: 1), data, gpu, cnnBatch, cnnSteps, lines, notes));
        Flush(lines, notes);

        Console.WriteLine($"# total {F(total.Elapsed.TotalSeconds)} s");
        return exit;
    }

    static void Flush(List<string> lines, List<string> notes)
    {
        foreach (var l in lines) Console.WriteLine(l);
        foreach (var n in notes) Console.WriteLine(n);
        lines.Clear();
        notes.Clear();
    }

    static string CudaDetails(Accelerator acc) => acc is CudaAccelerator cuda
        ? $", compute capability {cuda.Architecture.Major}.{cuda.Architecture.Minor}, clock {cuda.ClockRate} MHz, driver {cuda.DriverVersion.Major}.{cuda.DriverVersion.Minor}"
        : "";

    // ----------------------------------------------------------------------------------------------------------------
    // 1. SGEMM and the FP32 peak

    /// <summary>
    /// <c>sgemm_N</c> (TFLOP/s; a batch of launches between two synchronizations per window), a check of sampled elements
    /// of C against double-precision dot products, the FP32 peak measured (<see cref="FmaChains"/>) and from the spec
    /// (CUDA), and <c>sgemm_N_of_peak</c> against the spec peak where there is one, else the measured one. The SGEMM and
    /// FMA windows alternate.
    /// </summary>
    static int SgemmAndPeak(GpuDevice gpu, Settings s, List<string> lines, List<string> notes)
    {
        int n = s.SgemmSize;
        long nn = (long)n * n;
        var rng = new Random(42);
        var ha = new float[nn];
        var hb = new float[nn];
        for (long i = 0; i < nn; i++) { ha[i] = rng.NextSingle() * 2 - 1; hb[i] = rng.NextSingle() * 2 - 1; }
        using var a = gpu.Allocate<float>(nn, "SGEMM A");
        using var b = gpu.Allocate<float>(nn, "SGEMM B");
        using var c = gpu.Allocate<float>(nn, "SGEMM C");
        a.View.CopyFromCPU(gpu.Stream, ha);
        b.View.CopyFromCPU(gpu.Stream, hb);
        gpu.Synchronize();
        void Launch() => GpuKernels.Sgemm(gpu, false, false, n, n, n, a.View, n, b.View, n, c.View, n);

        var fma = new FmaChains(gpu);
        // First launches compile the kernels; then each window's size follows from one timed launch.
        Launch();
        gpu.Synchronize();
        fma.Launch(16);
        gpu.Synchronize();
        int calls = Calibrate(() => { Launch(); gpu.Synchronize(); }, s.KernelWindowSeconds, 1000);
        long iterations = fma.Calibrate(s.KernelWindowSeconds);
        if (!s.Tiny)
        {
            // Clocks ramp up under load: half a second of each before the timed windows.
            var warm = Stopwatch.StartNew();
            while (warm.Elapsed.TotalSeconds < 0.5) { Launch(); fma.Launch(iterations); gpu.Synchronize(); }
        }
        var gemm = new double[s.KernelWindows];
        var peak = new double[s.KernelWindows];
        double flops = 2.0 * n * n * n;
        for (int w = 0; w < s.KernelWindows; w++)
        {
            gpu.Synchronize();
            long t0 = Stopwatch.GetTimestamp();
            for (int i = 0; i < calls; i++) Launch();
            gpu.Synchronize();
            gemm[w] = flops * calls / Stopwatch.GetElapsedTime(t0).TotalSeconds / 1e12;
            peak[w] = fma.Measure(iterations);
        }
        double gemmTflops = Median(gemm), measured = Median(peak);
        double? spec = SpecPeak(gpu, out string specNote);

        // Sampled elements of C against double-precision dot products: a fast wrong kernel would make the figure meaningless.
        var hc = new float[nn];
        c.View.CopyToCPU(gpu.Stream, hc);
        gpu.Synchronize();
        double worst = 0;
        var pick = new Random(7);
        for (int t = 0; t < 16; t++)
        {
            int i = pick.Next(n), j = pick.Next(n);
            double dot = 0, abs = 0;
            for (int k = 0; k < n; k++)
            {
                double p = (double)ha[(long)i * n + k] * hb[(long)k * n + j];
                dot += p;
                abs += Math.Abs(p);
            }
            worst = Math.Max(worst, Math.Abs(hc[(long)i * n + j] - dot) / (1e-3 * abs + 1e-30));
        }
        bool gemmOk = worst <= 1;

        lines.Add($"# SGEMM C = A·B at {n}³ (row-major, no transposes, {calls} launch{(calls == 1 ? "" : "es")} a window); FP32 peak: FMA chains ({FmaChains.FmasPerIteration} FMAs an iteration, " +
                  $"{fma.Threads} threads in {fma.Groups} groups of {fma.GroupSize}, {iterations} iterations a launch); {specNote}");
        lines.Add($"sgemm_{n} {F(gemmTflops)} TFLOP/s");
        double reference = spec ?? measured;
        lines.Add($"sgemm_{n}_of_peak {(gemmTflops / reference).ToString("F3", Inv)} fraction   (of the {(spec != null ? "spec" : "measured")} FP32 peak)");
        lines.Add($"sgemm_{n}_of_measured_peak {(gemmTflops / measured).ToString("F3", Inv)} fraction");
        lines.Add($"fp32_peak_measured {F(measured)} TFLOP/s");
        lines.Add(spec is double sp ? $"fp32_peak_spec {F(sp)} TFLOP/s" : "fp32_peak_spec n/a TFLOP/s");
        if (spec is double sp2)
            lines.Add($"fp32_peak_measured_of_spec {(measured / sp2).ToString("F3", Inv)} fraction");
        lines.Add($"sgemm_check {(gemmOk ? "pass" : "FAIL")} worst={worst.ToString("F3", Inv)}   (16 sampled elements of C against double-precision dots; pass when every error <= 1e-3 x sum|a·b|)");
        return gemmOk ? 0 : 3;
    }

    /// <summary>
    /// The FP32 (non-tensor-core) peak from the spec: SMs × FP32 lanes per SM × 2 (an FMA is two flops) × the clock. ILGPU
    /// 1.5.3's <see cref="CudaAccelerator.ClockRate"/> is CU_DEVICE_ATTRIBUTE_CLOCK_RATE / 1000, i.e. MHz (the peak clock
    /// the driver reports). Lanes per SM by compute capability: 64 on 6.0, 7.x and 8.0; 128 on the others from 5.0 on
    /// (Maxwell, 6.1, 8.6, 8.9, Hopper 9.0, Blackwell). Null with a note for other devices.
    /// </summary>
    static double? SpecPeak(GpuDevice gpu, out string note)
    {
        if (gpu.Accelerator is not CudaAccelerator cuda)
        {
            note = $"spec peak: n/a ({gpu.Accelerator.AcceleratorType} device; the spec figure is computed for CUDA devices only)";
            return null;
        }
        int major = cuda.Architecture.Major, minor = cuda.Architecture.Minor;
        int lanes = (major == 6 && minor == 0) || major == 7 || (major == 8 && minor == 0) ? 64 : 128;
        double mhz = cuda.ClockRate;
        if (mhz <= 0)
        {
            note = "spec peak: n/a (the driver reports no clock rate)";
            return null;
        }
        double tflops = cuda.NumMultiprocessors * lanes * 2.0 * mhz * 1e6 / 1e12;
        note = $"spec peak = {cuda.NumMultiprocessors} SMs x {lanes} FP32 lanes x 2 x {mhz.ToString("F0", Inv)} MHz (compute capability {major}.{minor})";
        return tflops;
    }

    /// <summary>Calls per window: one timed call sets how many make <paramref name="seconds"/> (at least 1, at most <paramref name="max"/>).</summary>
    static int Calibrate(Action call, double seconds, int max)
    {
        long t0 = Stopwatch.GetTimestamp();
        call();
        double t = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        return (int)Math.Clamp(Math.Round(seconds / Math.Max(t, 1e-9)), 1, max);
    }

    // ----------------------------------------------------------------------------------------------------------------
    // 2. Training throughput

    /// <summary>Batches made before timing: inputs, and labels or one-hot targets.</summary>
    sealed record BatchSet(float[][] Inputs, int[][]? Labels, float[][]? Targets, int Batch);

    /// <summary>One side of a workload: a model from the seed on a device, its program, an AdamW, and the cycled batches.</summary>
    sealed class Trainer : IDisposable
    {
        readonly ModelBase _model;
        readonly CompiledProgram _program;
        readonly AdamW _optimizer = new(1e-3f);
        readonly BatchSet _data;
        readonly float[] _outputs;
        readonly bool _classify;
        int _next;

        public Trainer(ModelBase model, Device device, BatchSet data)
        {
            _model = model;
            _data = data;
            _classify = data.Labels != null;
            model.To(device);
            _program = model.NewProgram(data.Batch);
            // Where the count of correct predictions is taken on the host (the CPU), it reads the outputs from here.
            _outputs = _classify ? new float[data.Batch * Tensor.ShapeLength(model.Description.OutputShape)] : Array.Empty<float>();
        }

        public float LastLoss { get; private set; }

        public void Step()
        {
            int i = _next++ % _data.Inputs.Length;
            LastLoss = _program.TrainBatch(_data.Inputs[i], _data.Labels != null ? _data.Labels[i] : default,
                _data.Targets != null ? _data.Targets[i] : default, _data.Batch, _optimizer, _classify, _outputs, out _);
        }

        public void Dispose()
        {
            _program.Dispose();
            _model.To(Device.Cpu);   // frees the device memory (parameters, gradients, optimizer state)
        }
    }

    /// <summary>
    /// <c>name gpu cpu gpu/cpu samples/s</c>: the model from the same seed on the GPU and on the CPU, each warmed up, then
    /// windows of steps alternating GPU and CPU (the CPU skips windows at the largest batch to keep the run short).
    /// </summary>
    static int Throughput(string name, Func<ModelBase> make, BatchSet data, GpuDevice gpu, Settings s, Plan plan, int batch, List<string> lines, List<string> notes)
    {
        Trainer? onGpu = null, onCpu = null;
        var clock = Stopwatch.StartNew();
        try
        {
            onGpu = new Trainer(make(), gpu, data);
            onCpu = new Trainer(make(), Device.Cpu, data);
            var warmGpu = Stopwatch.StartNew();
            int gpuSteps = WarmUp(onGpu.Step, s, plan, s.GpuWindowSeconds);
            double gpuWarm = warmGpu.Elapsed.TotalSeconds;
            var warmCpu = Stopwatch.StartNew();
            int cpuSteps = WarmUp(onCpu.Step, s, plan, s.CpuWindowSeconds);
            double cpuWarm = warmCpu.Elapsed.TotalSeconds;
            int cpuWindows = !s.Tiny && batch == plan.Batches[^1] ? Math.Min(plan.Windows, s.CpuWindowsLargest) : plan.Windows;
            var g = new List<double>();
            var c = new List<double>();
            for (int w = 0; w < plan.Windows; w++)
            {
                g.Add(gpuSteps * batch / Time(onGpu.Step, gpuSteps));
                if (w < cpuWindows)
                    c.Add(cpuSteps * batch / Time(onCpu.Step, cpuSteps));
            }
            double gv = Median(g), cv = Median(c);
            lines.Add($"{name} {F(gv)} {F(cv)} {(gv / cv).ToString("F2", Inv)} samples/s");
            notes.Add($"#   {name}: GPU {gpuSteps} and CPU {cpuSteps} step(s) a window, {g.Count} and {c.Count} window(s); " +
                      (plan.WarmSteps > 0 ? $"warm-up {F(gpuWarm)} s and {F(cpuWarm)} s (first step included)" : "no warm-up") +
                      $"; last losses {onGpu.LastLoss.ToString("F4", Inv)} / {onCpu.LastLoss.ToString("F4", Inv)}; {F(clock.Elapsed.TotalSeconds)} s in all");
            return 0;
        }
        catch (Exception e) when (e is DeviceException or InvalidOperationException or ArgumentException or OutOfMemoryException)
        {
            lines.Add($"{name} n/a n/a n/a samples/s");
            notes.Add($"#   {name}: {e.GetType().Name}: {e.Message}");
            return 1;
        }
        finally
        {
            onGpu?.Dispose();
            onCpu?.Dispose();
        }
    }

    /// <summary>
    /// The untimed steps of the plan (the first compiles the kernels on the GPU); in tiny mode that is all, and the plan's
    /// steps per window are returned. The full mode then takes the steps per window from one timed step and runs windows
    /// until <see cref="Settings.MinWarmupSeconds"/> have passed and two windows agree within 5 %, or
    /// <see cref="Settings.MaxWarmupSeconds"/> have (.NET's tiered JIT recompiles hot methods in the background for about
    /// the first second, GPU clocks ramp up). Returns the steps per window.
    /// </summary>
    static int WarmUp(Action step, Settings s, Plan plan, double windowSeconds)
    {
        var elapsed = Stopwatch.StartNew();
        for (int i = 0; i < plan.WarmSteps; i++) step();
        if (plan.StepsPerWindow > 0) return plan.StepsPerWindow;
        const int MaxSteps = 100_000;
        int steps = Calibrate(step, windowSeconds, MaxSteps);
        double previous = double.NaN;
        while (true)
        {
            // Seconds per step; the window is resized from each one (a first step slowed by the JIT or a collection
            // would otherwise leave windows far shorter than aimed at).
            double t = Time(step, steps) / steps;
            double spent = elapsed.Elapsed.TotalSeconds;
            bool stable = Math.Abs(t - previous) <= 0.05 * previous;
            steps = (int)Math.Clamp(Math.Round(windowSeconds / Math.Max(t, 1e-9)), 1, MaxSteps);
            if (spent >= s.MaxWarmupSeconds || (spent >= s.MinWarmupSeconds && stable))
                return steps;
            previous = t;
        }
    }

    static double Time(Action step, int steps)
    {
        long t0 = Stopwatch.GetTimestamp();
        for (int i = 0; i < steps; i++) step();
        return Stopwatch.GetElapsedTime(t0).TotalSeconds;
    }

    // ----------------------------------------------------------------------------------------------------------------
    // 3. The loss check

    /// <summary>
    /// The model from seed 1 on the GPU and on the CPU, trained on the same batches (the first ones of a seeded shuffle,
    /// <see cref="Settings.LossCheckFor"/>) with AdamW(1e-3) each; prints the first and the last step's losses of both and
    /// the verdict.
    /// </summary>
    static int LossCheck(string name, Func<ModelBase> make, Dataset data, GpuDevice gpu, int batch, int steps, List<string> lines, List<string> notes)
    {
        var batches = FashionBatches(data, batch, steps, seed: 2);
        Trainer? onGpu = null, onCpu = null;
        var clock = Stopwatch.StartNew();
        try
        {
            onGpu = new Trainer(make(), gpu, batches);
            onCpu = new Trainer(make(), Device.Cpu, batches);
            float gFirst = 0, cFirst = 0;
            for (int i = 0; i < steps; i++)
            {
                onGpu.Step();
                onCpu.Step();
                if (i == 0) { gFirst = onGpu.LastLoss; cFirst = onCpu.LastLoss; }
            }
            float gLast = onGpu.LastLoss, cLast = onCpu.LastLoss;
            double rel = Math.Abs(gLast - cLast) / Math.Abs(cLast);
            bool pass = rel <= LossTolerance && float.IsFinite(gLast) && float.IsFinite(cLast);
            lines.Add($"loss_{name}_step1 {gFirst.ToString("F6", Inv)} {cFirst.ToString("F6", Inv)} {((double)gFirst / cFirst).ToString("F6", Inv)} nats");
            lines.Add($"loss_{name}_step{steps} {gLast.ToString("F6", Inv)} {cLast.ToString("F6", Inv)} {((double)gLast / cLast).ToString("F6", Inv)} nats");
            lines.Add($"loss_check_{name} {(pass ? "pass" : "FAIL")} rel_diff={rel.ToString("0.00e0", Inv)} tol={LossTolerance.ToString("0.#e0", Inv)}");
            notes.Add($"#   loss_check_{name}: {steps} steps at batch {batch}, {F(clock.Elapsed.TotalSeconds)} s in all");
            return pass ? 0 : 3;
        }
        catch (Exception e) when (e is DeviceException or InvalidOperationException or ArgumentException or OutOfMemoryException)
        {
            lines.Add($"loss_check_{name} FAIL n/a");
            notes.Add($"#   loss_check_{name}: {e.GetType().Name}: {e.Message}");
            return 1;
        }
        finally
        {
            onGpu?.Dispose();
            onCpu?.Dispose();
        }
    }

    // ----------------------------------------------------------------------------------------------------------------
    // Data

    /// <summary>Fashion-MNIST's training set (flat, 784 floats a sample: the CNN's (1, 28, 28) in the same order), or synthetic data of its shape.</summary>
    static Dataset LoadFashion(out string note)
    {
        try
        {
            string dir = FashionMnist.FindDirectory();
            note = "Fashion-MNIST " + dir;
            return FashionMnist.Load(dir).Train;
        }
        catch (FileNotFoundException)
        {
            note = "Fashion-MNIST not found (scripts/ensure-dataset.sh installs it): synthetic data of its shape (60000 x 784 uniform pixels, uniform labels)";
            var rng = new Random(1);
            var x = new float[60000 * 784];
            for (int i = 0; i < x.Length; i++) x[i] = rng.NextSingle();
            var y = new int[60000];
            for (int i = 0; i < y.Length; i++) y[i] = rng.Next(10);
            return new Dataset(x, new[] { 784 }, y, 10);
        }
    }

    /// <summary><paramref name="count"/> batches of a seeded shuffle (Fit's <see cref="BatchLoader"/>), copied out.</summary>
    static BatchSet FashionBatches(Dataset data, int batch, int count, int seed)
    {
        var loader = new BatchLoader(data, batch, shuffle: true, seed);
        var inputs = new float[count][];
        var labels = new int[count][];
        int epoch = 0, next = 0;
        loader.StartEpoch(epoch);
        for (int i = 0; i < count; i++)
        {
            if (next == loader.BatchCount || loader.Load(next) < batch)
            {
                loader.StartEpoch(++epoch);
                next = 0;
                loader.Load(next);
            }
            next++;
            inputs[i] = loader.Input.ToArray();
            labels[i] = loader.Labels.ToArray();
        }
        return new BatchSet(inputs, labels, null, batch);
    }

    /// <summary>
    /// The training text of the char-LM samples: Debian's fortunes (printable ASCII and newline as symbols 0..95, as
    /// Samples/CharTransformer/CharCorpus.cs encodes them), or, when it is missing, synthetic uniform symbols.
    /// </summary>
    static byte[] LoadCorpus(out string note)
    {
        string dir = Environment.GetEnvironmentVariable("FORTUNES_DIR") ?? "/usr/share/games/fortunes";
        var files = Directory.Exists(dir)
            ? Directory.GetFiles(dir).Where(f => Path.GetExtension(f).Length == 0 && !Path.GetFileName(f).Contains("art", StringComparison.Ordinal))
                .OrderBy(f => f, StringComparer.Ordinal).ToList()
            : new List<string>();
        var text = new List<byte>();
        foreach (var f in files)
            foreach (char ch in File.ReadAllText(f, Encoding.Latin1).Replace("\t", "    ", StringComparison.Ordinal))
            {
                int symbol = ch == '\n' ? 0 : ch >= ' ' && ch <= '~' ? ch - ' ' + 1 : -1;
                if (symbol >= 0) text.Add((byte)symbol);
            }
        if (text.Count > 10 * CharTransformerSample.CharTransformer.Context)
        {
            note = $"random {CharTransformerSample.CharTransformer.Context}-character windows of the fortunes corpus {dir} ({text.Count:N0} characters)";
            return text.ToArray();
        }
        note = $"the fortunes corpus was not found in {dir} (scripts/ensure-corpus.sh installs it): synthetic uniform symbol ids";
        var rng = new Random(1);
        var synthetic = new byte[1 << 20];
        for (int i = 0; i < synthetic.Length; i++) synthetic[i] = (byte)rng.Next(CharSamples.CharCorpus.Vocabulary);
        return synthetic;
    }

    /// <summary><paramref name="count"/> batches of random windows: ids (batch, 64) and one-hot next-symbol targets (batch, 64, 96).</summary>
    static BatchSet CharBatches(byte[] text, int batch, int count, int seed)
    {
        const int T = CharTransformerSample.CharTransformer.Context, V = CharSamples.CharCorpus.Vocabulary;
        var rng = new Random(seed);
        var inputs = new float[count][];
        var targets = new float[count][];
        for (int i = 0; i < count; i++)
        {
            var ids = inputs[i] = new float[batch * T];
            var target = targets[i] = new float[batch * T * V];
            for (int b = 0; b < batch; b++)
            {
                int start = rng.Next(text.Length - T - 1);
                for (int t = 0; t < T; t++)
                {
                    ids[b * T + t] = text[start + t];
                    target[(b * T + t) * V + text[start + t + 1]] = 1;
                }
            }
        }
        return new BatchSet(inputs, null, targets, batch);
    }

    // ----------------------------------------------------------------------------------------------------------------

    static double Median(IEnumerable<double> values)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        if (sorted.Length == 0) return double.NaN;
        int m = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
    }

    /// <summary>Four significant figures or so, invariant: 1234.5, 12.345, 0.1234, 0.000123.</summary>
    static string F(double v)
    {
        double a = Math.Abs(v);
        if (double.IsNaN(v)) return "n/a";
        if (a >= 100) return v.ToString("F1", Inv);
        if (a >= 0.1 || a == 0) return v.ToString("F3", Inv);
        return v.ToString("G3", Inv);
    }
}

/// <summary>
/// The device's FP32 FMA throughput, measured: every thread runs <see cref="FmasPerIteration"/> FMAs an iteration on 16
/// independent register-resident chains (acc = acc · a + b, which converges to b / (1 − a): no overflow, no denormals),
/// enough to hide the FMA latency; four groups of 256 threads per multiprocessor (fewer where a multiprocessor holds
/// fewer threads) keep every multiprocessor busy in one wave. TFLOP/s = 2 · FMAs · iterations · threads / wall time.
/// </summary>
internal sealed class FmaChains
{
    /// <summary>FMAs per thread per loop iteration (16 chains, 4 rounds).</summary>
    public const int FmasPerIteration = 64;

    readonly GpuDevice _gpu;
    readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, int, float, float> _kernel;
    readonly MemoryBuffer1D<float, Stride1D.Dense> _sink;

    /// <summary>Loads the kernel on <paramref name="gpu"/> and sizes the grid from its multiprocessors.</summary>
    public FmaChains(GpuDevice gpu)
    {
        _gpu = gpu;
        var acc = gpu.Accelerator;
        GroupSize = Math.Min(256, acc.MaxNumThreadsPerGroup);
        int perSm = Math.Clamp(acc.MaxNumThreadsPerMultiprocessor / GroupSize, 1, 4);
        Groups = Math.Max(1, acc.NumMultiprocessors) * perSm;
        _kernel = gpu.Kernels(a => new Loaded(a)).Kernel;
        _sink = gpu.Allocate<float>(Threads, "the FMA sink");
    }

    /// <summary>Threads per group.</summary>
    public int GroupSize { get; }

    /// <summary>Groups of the grid.</summary>
    public int Groups { get; }

    /// <summary>Threads of the grid.</summary>
    public int Threads => Groups * GroupSize;

    /// <summary>Queues one launch of <paramref name="iterations"/> iterations (does not wait).</summary>
    public void Launch(long iterations) =>
        _kernel(_gpu.Stream, new KernelConfig(Groups, GroupSize), _sink.View, (int)Math.Min(iterations, int.MaxValue), 0.999f, 1e-3f);

    /// <summary>
    /// Iterations of a launch that takes about <paramref name="seconds"/>: scaled from a timed launch of 2,000, then from a
    /// timed launch of that estimate (the first is short enough for the launch overhead to count).
    /// </summary>
    public long Calibrate(double seconds)
    {
        long iterations = 2000;
        for (int pass = 0; pass < 2; pass++)
        {
            _gpu.Synchronize();
            long t0 = Stopwatch.GetTimestamp();
            Launch(iterations);
            _gpu.Synchronize();
            double t = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            iterations = Math.Clamp((long)(iterations * seconds / Math.Max(t, 1e-9)), 100, int.MaxValue);
        }
        return iterations;
    }

    /// <summary>One timed launch; TFLOP/s.</summary>
    public double Measure(long iterations)
    {
        _gpu.Synchronize();
        long t0 = Stopwatch.GetTimestamp();
        Launch(iterations);
        _gpu.Synchronize();
        double t = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        return 2.0 * FmasPerIteration * Math.Min(iterations, int.MaxValue) * Threads / t / 1e12;
    }

    sealed class Loaded
    {
        public readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, int, float, float> Kernel;

        public Loaded(Accelerator a) => Kernel = a.LoadKernel<ArrayView<float>, int, float, float>(FmaChainsKernel.Run);
    }
}

/// <summary>The kernel of <see cref="FmaChains"/> (explicitly grouped).</summary>
internal static class FmaChainsKernel
{
    /// <summary>16 chains of acc = acc · a + b, four rounds an iteration; the sum goes to <paramref name="sink"/> so nothing is dead.</summary>
    public static void Run(ArrayView<float> sink, int iterations, float a, float b)
    {
        int i = Grid.GlobalIndex.X;
        float c0 = 0.1f + i * 1e-9f, c1 = c0 + b, c2 = c1 + b, c3 = c2 + b, c4 = c3 + b, c5 = c4 + b, c6 = c5 + b, c7 = c6 + b;
        float c8 = c7 + b, c9 = c8 + b, c10 = c9 + b, c11 = c10 + b, c12 = c11 + b, c13 = c12 + b, c14 = c13 + b, c15 = c14 + b;
        for (int it = 0; it < iterations; it++)
        {
            c0 = c0 * a + b; c1 = c1 * a + b; c2 = c2 * a + b; c3 = c3 * a + b; c4 = c4 * a + b; c5 = c5 * a + b; c6 = c6 * a + b; c7 = c7 * a + b;
            c8 = c8 * a + b; c9 = c9 * a + b; c10 = c10 * a + b; c11 = c11 * a + b; c12 = c12 * a + b; c13 = c13 * a + b; c14 = c14 * a + b; c15 = c15 * a + b;
            c0 = c0 * a + b; c1 = c1 * a + b; c2 = c2 * a + b; c3 = c3 * a + b; c4 = c4 * a + b; c5 = c5 * a + b; c6 = c6 * a + b; c7 = c7 * a + b;
            c8 = c8 * a + b; c9 = c9 * a + b; c10 = c10 * a + b; c11 = c11 * a + b; c12 = c12 * a + b; c13 = c13 * a + b; c14 = c14 * a + b; c15 = c15 * a + b;
            c0 = c0 * a + b; c1 = c1 * a + b; c2 = c2 * a + b; c3 = c3 * a + b; c4 = c4 * a + b; c5 = c5 * a + b; c6 = c6 * a + b; c7 = c7 * a + b;
            c8 = c8 * a + b; c9 = c9 * a + b; c10 = c10 * a + b; c11 = c11 * a + b; c12 = c12 * a + b; c13 = c13 * a + b; c14 = c14 * a + b; c15 = c15 * a + b;
            c0 = c0 * a + b; c1 = c1 * a + b; c2 = c2 * a + b; c3 = c3 * a + b; c4 = c4 * a + b; c5 = c5 * a + b; c6 = c6 * a + b; c7 = c7 * a + b;
            c8 = c8 * a + b; c9 = c9 * a + b; c10 = c10 * a + b; c11 = c11 * a + b; c12 = c12 * a + b; c13 = c13 * a + b; c14 = c14 * a + b; c15 = c15 * a + b;
        }
        sink[i] = ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7)) + ((c8 + c9) + (c10 + c11)) + ((c12 + c13) + (c14 + c15));
    }
}
