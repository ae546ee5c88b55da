using System;
using System.Collections.Generic;
using System.Diagnostics;

namespace ModelGen;

/// <summary>
/// The base of every <c>[Model]</c> class (the generator adds it): parameters in one arena, and training,
/// evaluation, prediction and checkpoints on top of the compiled program. A model is not thread-safe: run one
/// <c>Fit</c>/<c>Evaluate</c>/<c>Predict</c> at a time.
/// </summary>
public abstract class ModelBase
{
    CompiledProgram? _trainProgram;
    CompiledProgram? _evalProgram;
    float[]? _evalOutput;
    DeviceSession? _session;

    /// <summary>Called by the generated constructor.</summary>
    protected ModelBase(ModelDescription description, int seed)
    {
        Description = description;
        Parameters = new ParameterStore(description.Parameters, seed);
    }

    /// <summary>What the generator knows about this model.</summary>
    public ModelDescription Description { get; }

    /// <summary>The parameters, in one arena, with their gradients.</summary>
    public ParameterStore Parameters { get; }

    /// <summary>
    /// The eager mode of this model's layers (training or evaluation, and the seed and step of eager dropout). It only
    /// affects calling the model's own [Forward] method directly; Fit, Evaluate and Predict run the compiled program,
    /// which trains in its training step and infers with running statistics and no dropout whatever this says.
    /// </summary>
    public ExecutionMode Mode => ExecutionMode.Of(Parameters);

    /// <summary>Eager training mode (the default), as PyTorch's <c>model.train()</c>: dropout drops, batch normalization uses and updates batch statistics.</summary>
    public void Train() => Mode.Training = true;

    /// <summary>Eager evaluation mode, as PyTorch's <c>model.eval()</c>: dropout is the identity, batch normalization uses running statistics.</summary>
    public void Eval() => Mode.Training = false;

    /// <summary>Creates the generated CPU program for batches of up to <paramref name="maxBatch"/> samples.</summary>
    public abstract CompiledProgram CreateProgram(int maxBatch);

    /// <summary>
    /// Creates the generated program for a GPU session. The generator overrides this when the project that declares the
    /// model references the GPU backend (<c>ModelGen.Runtime.Gpu</c>); otherwise there is no GPU code to run.
    /// </summary>
    public virtual CompiledProgram CreateDeviceProgram(DeviceSession session, int maxBatch) =>
        throw new DeviceException($"{Description.Name} has no GPU code: the project that declares it does not reference ModelGen.Runtime.Gpu, so the generator wrote only its CPU program.");

    /// <summary>The device the model runs on (<see cref="Device.Cpu"/> until <see cref="To"/> moves it).</summary>
    public Device Device => _session?.Device ?? Device.Cpu;

    /// <summary>
    /// Moves the model to <paramref name="device"/>, as PyTorch's <c>model.to(device)</c>: its parameters (and, once they
    /// step there, its optimizers' state) live on the device, and <see cref="Fit"/>, <see cref="Evaluate"/>,
    /// <see cref="Predict"/>, <see cref="Save(string)"/> and <see cref="Load(string)"/> run there. Checkpoints are the same
    /// files on every device. Moving back to the CPU copies everything back. Returns the model.
    /// </summary>
    public ModelBase To(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (ReferenceEquals(device, Device)) return this;
        DeviceSession? next = device.IsGpu ? Device.RequireBackend().CreateSession(device, Parameters) : null;
        if (_session != null)
        {
            // The parameters come back first, so that the new device starts from what the old one trained.
            _session.Download();
            if (next != null) next.Upload();
            _session.Dispose();
        }
        _session = next;
        DropPrograms();
        return this;
    }

    void DropPrograms()
    {
        _trainProgram?.Dispose();
        _trainProgram = null;
        if (!ReferenceEquals(_evalProgram, _trainProgram)) _evalProgram?.Dispose();
        _evalProgram = null;
        _evalOutput = null;
    }

    int InputLength => Tensor.ShapeLength(Description.InputShape);

    int OutputLength => Tensor.ShapeLength(Description.OutputShape);

    /// <summary>
    /// Trains the model: each epoch shuffles <paramref name="train"/> with a permutation that depends only on
    /// <paramref name="seed"/> and the epoch, runs the compiled training step on every batch (the last one holds the
    /// remainder) followed by <paramref name="optimizer"/>, then evaluates <paramref name="validation"/> when given.
    /// Deterministic for a given seed, initial parameters and optimizer. The steady-state step allocates nothing.
    /// A last batch smaller than <see cref="ModelDescription.MinTrainingBatch"/> (one sample, under batch normalization
    /// over one value per channel) is left out of the epoch (<see cref="EpochResult.SamplesLeftOut"/>).
    /// </summary>
    /// <exception cref="NotFiniteNumberException">
    /// A step's loss, or the gradient norm measured for <see cref="Optimizer.ClipGradientNorm"/>, is NaN or infinite. The
    /// message names the epoch, the step, the value, whether the step was applied (not on the CPU; on a GPU it has run
    /// before the loss is read) and the first non-finite feature or target of <paramref name="train"/>, if any.
    /// </exception>
    /// <param name="train">The training samples, whose sample shape is the model's input shape.</param>
    /// <param name="epochs">Epochs to run (0 runs none).</param>
    /// <param name="batchSize">Samples per step.</param>
    /// <param name="optimizer">The optimizer; <c>new AdamW(1e-3f)</c> when null.</param>
    /// <param name="validation">Samples evaluated after each epoch, or null.</param>
    /// <param name="seed">The shuffling seed.</param>
    /// <param name="callbacks">Hooks called around epochs (early stopping, checkpoints, ...).</param>
    /// <param name="verbose">Whether to print progress on the console.</param>
    /// <param name="initialEpoch">
    /// The epoch (from 0) to start at, as Keras's <c>initial_epoch</c>: runs epochs <paramref name="initialEpoch"/> to
    /// <paramref name="epochs"/> - 1, numbered and shuffled as in an uninterrupted run. To resume exactly, first
    /// <see cref="Load(string, Optimizer)"/> a checkpoint written after epoch <paramref name="initialEpoch"/> with its optimizer.
    /// </param>
    /// <remarks>
    /// The randomness of training steps (dropout) is drawn from (<paramref name="seed"/>, step number), and the step
    /// number starts at the optimizer's <see cref="Optimizer.StepCount"/>; with the shuffling a function of
    /// (<paramref name="seed"/>, epoch), a run resumed from a checkpoint with its optimizer state repeats the
    /// uninterrupted run bit for bit.
    /// </remarks>
    public History Fit(Dataset train, int epochs, int batchSize = 32, Optimizer? optimizer = null, Dataset? validation = null,
        int seed = 0, IReadOnlyList<Callback>? callbacks = null, bool verbose = true, int initialEpoch = 0)
    {
        ArgumentNullException.ThrowIfNull(train);
        if (epochs < 0) throw new ArgumentOutOfRangeException(nameof(epochs), $"Epochs must be at least 0, not {epochs}.");
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), $"The batch size must be at least 1, not {batchSize}.");
        if (initialEpoch < 0) throw new ArgumentOutOfRangeException(nameof(initialEpoch), $"The initial epoch must be at least 0, not {initialEpoch}.");
        CheckDataset(train, nameof(train));
        if (train.Count == 0) throw new ArgumentException("The training set has no samples.", nameof(train));
        if (validation != null) CheckDataset(validation, nameof(validation));
        callbacks ??= Array.Empty<Callback>();
        for (int c = 0; c < callbacks.Count; c++)
            if (callbacks[c] == null) throw new ArgumentException($"Callback {c} is null.", nameof(callbacks));
        optimizer ??= new AdamW(1e-3f);

        var loader = new BatchLoader(train, batchSize, shuffle: true, seed);
        int batches = TrainingBatches(loader, train.Count, out int leftOut);
        var program = TrainProgram(loader.BatchSize);
        program.Seed = unchecked((ulong)seed * 0x9E3779B97F4A7C15UL + 1); // dropout masks follow the run's seed
        program.SetSteps(optimizer.StepCount);                              // ... and the optimizer's step, so a resumed run continues them
        bool classify = Description.Target == TargetKind.Labels;
        int outputLength = OutputLength;
        var output = new float[checked(loader.BatchSize * outputLength)];
        var history = new History(Math.Clamp(epochs - initialEpoch, 0, 1024));
        var progress = verbose ? new Progress() : null;

        for (int c = 0; c < callbacks.Count; c++)
        {
            callbacks[c].Model = this;
            callbacks[c].Optimizer = optimizer;
            callbacks[c].StopTraining = false;
            callbacks[c].OnTrainBegin();
        }

        for (int epoch = initialEpoch; epoch < epochs; epoch++)
        {
            long epochStart = Stopwatch.GetTimestamp();
            loader.StartEpoch(epoch);
            double lossSum = 0;
            long correct = 0, seen = 0;
            // Each step is begun, then the next batch is gathered, then the step is finished: on a GPU the host gathers
            // batch b + 1 while the device runs step b (on the CPU the step runs whole when it begins).
            int queued = 0;
            for (int b = 0; b < batches; b++)
            {
                int n = loader.Load(b);
                if (queued > 0) Finish(b);
                program.BeginTrainBatch(loader.Input, loader.Labels, loader.Targets, n, optimizer, classify, output.AsSpan(0, n * outputLength));
                queued = n;
            }
            if (queued > 0) Finish(batches);

            void Finish(int done)
            {
                float loss = program.EndTrainBatch(out long right);
                if (!float.IsFinite(loss) || !program.StepApplied) throw NotFinite(train, program, optimizer, loss, epoch + 1, done, batches);
                lossSum += (double)loss * queued;
                seen += queued;
                correct += right;
                progress?.Batch(epoch + 1, epochs, done, batches, lossSum / seen,
                    seen / Stopwatch.GetElapsedTime(epochStart).TotalSeconds);
            }
            double trainSeconds = Stopwatch.GetElapsedTime(epochStart).TotalSeconds;
            Evaluation? val = validation != null && validation.Count > 0 ? Evaluate(validation) : null;
            var result = new EpochResult(epoch + 1, epochs, lossSum / seen, classify ? (double)correct / seen : null,
                val?.Loss, val?.Accuracy, trainSeconds > 0 ? seen / trainSeconds : 0, Stopwatch.GetElapsedTime(epochStart), leftOut);
            history.Add(result);
            progress?.Epoch(result);
            bool stop = false;
            for (int c = 0; c < callbacks.Count; c++)
            {
                callbacks[c].OnEpochEnd(result);
                stop |= callbacks[c].StopTraining;
            }
            if (stop)
            {
                history.StoppedEarly = epoch + 1 < epochs;
                break;
            }
        }

        if (_session != null)
        {
            // The trained parameters, and the optimizer's state and last gradient norm, come back to the host.
            _session.Download();
            _session.DownloadOptimizer(optimizer);
        }
        for (int c = 0; c < callbacks.Count; c++) callbacks[c].OnTrainEnd(history);
        return history;
    }

    /// <summary>
    /// The batches of an epoch that <c>Fit</c> trains on: all of them, but a last batch smaller than the model's
    /// <see cref="ModelDescription.MinTrainingBatch"/> (one sample, with batch normalization over one value per channel),
    /// whose <paramref name="leftOut"/> samples are left out of the epoch (the shuffle leaves out another one each epoch).
    /// Throws when every batch is that small.
    /// </summary>
    int TrainingBatches(BatchLoader loader, int count, out int leftOut)
    {
        int min = Description.MinTrainingBatch;
        if (loader.BatchSize < min)
            throw new ArgumentException(
                $"{Description.Name} has batch normalization over one value per channel, which needs at least {min} samples per training batch, " +
                (count < min ? $"but the training set has {count} sample{(count == 1 ? "" : "s")}." : $"so the batch size cannot be {loader.BatchSize}."),
                count < min ? "train" : "batchSize");
        int last = count - (loader.BatchCount - 1) * loader.BatchSize;
        leftOut = last < min ? last : 0;
        return leftOut > 0 ? loader.BatchCount - 1 : loader.BatchCount;
    }

    /// <summary>
    /// The error of a training step whose loss or gradient norm is not finite: where (epoch and step), what, whether the
    /// parameters took the step, and the first non-finite value of the training set when there is one (searched only now).
    /// </summary>
    NotFiniteNumberException NotFinite(Dataset train, CompiledProgram program, Optimizer optimizer, float loss, int epoch, int step, int steps)
    {
        bool lossBad = !float.IsFinite(loss);
        double value = lossBad ? loss : optimizer.LastGradientNorm ?? double.NaN;
        var text = new System.Text.StringBuilder();
        text.Append($"{Description.Name}.Fit stopped at epoch {epoch}, step {step} of {steps}: ");
        text.Append(lossBad ? $"the training loss is {FormatNonFinite(loss)}. " : $"the global norm of the gradients (measured for clipping) is {FormatNonFinite(value)}. ");
        if (!program.StepApplied)
            text.Append("This step was not applied: the trained parameters and the optimizer state are those after the previous step" +
                (Array.Exists(Description.Parameters, p => !p.Trainable) ? " (state such as batch normalization's running statistics took this step's batch). " : ". "));
        else
            text.Append($"The step ran on {program.Device} before its loss was read, so the parameters took its update and may hold non-finite values now. ");
        text.Append(NonFiniteSample(train) is string where
            ? $"The training data is not finite: {where}."
            : "The training data is finite; a smaller learning rate or gradient clipping (Optimizer.ClipGradientNorm) may keep training stable.");
        return new NotFiniteNumberException(text.ToString(), value);
    }

    /// <summary>NaN, +infinity or -infinity, whatever the culture.</summary>
    static string FormatNonFinite(double v) => double.IsNaN(v) ? "NaN" : v > 0 ? "+infinity" : "-infinity";

    /// <summary>The first non-finite feature or target of <paramref name="data"/>, described, or null.</summary>
    static string? NonFiniteSample(Dataset data)
    {
        int at = FirstNonFinite(data.Features);
        if (at >= 0) return $"sample {at / data.SampleLength} has feature {at % data.SampleLength} = {FormatNonFinite(data.Features[at])}";
        if (data.Targets != null && (at = FirstNonFinite(data.Targets)) >= 0)
            return $"sample {at / data.TargetLength} has target {at % data.TargetLength} = {FormatNonFinite(data.Targets[at])}";
        return null;
    }

    static int FirstNonFinite(ReadOnlySpan<float> values)
    {
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i])) return i;
        return -1;
    }

    /// <summary>
    /// Runs the model over <paramref name="data"/> without training and returns the mean loss (softmax cross-entropy of
    /// the outputs against the labels for a classifier, mean squared error for a regression model), the accuracy, a
    /// confusion matrix and <see cref="ClassificationMetrics"/> (top-k accuracy for k up to 5, per-class precision,
    /// recall and F1, macro F1) for a classifier, and the sample count.
    /// </summary>
    public Evaluation Evaluate(Dataset data, int batchSize = 256)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), $"The batch size must be at least 1, not {batchSize}.");
        CheckDataset(data, nameof(data));
        int count = data.Count;
        if (count == 0)
            return Description.Target == TargetKind.Labels
                ? new Evaluation(0, double.NaN, new ClassificationMetrics(new int[OutputLength, OutputLength]))
                : new Evaluation(0, double.NaN, null, null);
        var program = EvalProgram(Math.Min(batchSize, count));
        int batch = program.MaxBatch, inLength = InputLength, outLength = OutputLength;
        var output = _evalOutput!;
        bool classify = Description.Target == TargetKind.Labels;
        var confusion = classify ? new int[outLength, outLength] : null;
        var rankCounts = classify ? new long[Math.Min(ClassificationMetrics.DefaultMaxTopK, outLength)] : null;
        double lossSum = 0;
        for (int start = 0; start < count; start += batch)
        {
            int n = Math.Min(batch, count - start);
            var outputs = output.AsSpan(0, n * outLength);
            program.Infer(data.Features.AsSpan(start * inLength, n * inLength), n, outputs);
            if (classify)
            {
                var labels = data.Labels.AsSpan(start, n);
                for (int r = 0; r < n; r++)
                {
                    var row = outputs.Slice(r * outLength, outLength);
                    lossSum += RowCrossEntropy(row, labels[r]);
                    ClassificationMetrics.Accumulate(row, labels[r], confusion!, rankCounts!);
                }
            }
            else
            {
                var targets = data.Targets.AsSpan(start * outLength, n * outLength);
                for (int i = 0; i < outputs.Length; i++)
                {
                    double d = (double)outputs[i] - targets[i];
                    lossSum += d * d;
                }
            }
        }
        return classify
            ? new Evaluation(count, lossSum / count, ClassificationMetrics.FromCounts(confusion!, rankCounts!))
            : new Evaluation(count, lossSum / ((double)count * outLength), null, null);
    }

    /// <summary>
    /// Runs the inference pass. An input of the model's input shape gives an output of its output shape; a batch
    /// <c>(B, input shape...)</c> gives <c>(B, output shape...)</c>. An input holding NaN or an infinity is refused
    /// (an <see cref="ArgumentException"/> names the sample and the element).
    /// </summary>
    public Tensor Predict(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var inShape = Description.InputShape;
        var shape = input.Shape;
        int batch;
        int[] outShape;
        if (shape.SequenceEqual(inShape))
        {
            batch = 1;
            outShape = (int[])Description.OutputShape.Clone();
        }
        else if (shape.Length == inShape.Length + 1 && shape.Slice(1).SequenceEqual(inShape))
        {
            batch = shape[0];
            outShape = new int[Description.OutputShape.Length + 1];
            outShape[0] = batch;
            Description.OutputShape.CopyTo(outShape, 1);
        }
        else
        {
            throw new ArgumentException(
                $"{Description.Name}.Predict takes one sample of shape {Tensor.FormatShape(inShape)} or a batch of shape (B, {FormatDims(inShape)}), " +
                $"not {Tensor.FormatShape(shape)}.", nameof(input));
        }
        int inLength = InputLength;
        ReadOnlySpan<float> x = input.Data;
        // A NaN or infinite input makes every output it reaches NaN (and the arg-max of NaN scores meaningless): refused.
        int bad = FirstNonFinite(x);
        if (bad >= 0)
            throw new ArgumentException(
                $"{Description.Name}.Predict: {(shape.Length == inShape.Length ? "the input" : $"input sample {bad / inLength}")} has the non-finite value {FormatNonFinite(x[bad])} at element {bad % inLength}.",
                nameof(input));
        var result = new Tensor(outShape);
        if (batch == 0) return result;
        var program = EvalProgram(Math.Min(batch, 256));
        int outLength = OutputLength, step = program.MaxBatch;
        Span<float> y = result.Data;
        for (int start = 0; start < batch; start += step)
        {
            int n = Math.Min(step, batch - start);
            program.Infer(x.Slice(start * inLength, n * inLength), n, y.Slice(start * outLength, n * outLength));
        }
        return result;
    }

    /// <summary>Writes every parameter to a safetensors file (atomically), with the model name in the metadata.</summary>
    public void Save(string path)
    {
        _session?.Download();
        SafeTensors.Save(path, Parameters, new Dictionary<string, string>(StringComparer.Ordinal) { ["modelgen.model"] = Description.Name });
    }

    /// <summary>
    /// Writes a resumable checkpoint: every parameter as <see cref="Save(string)"/>, plus <paramref name="optimizer"/>'s
    /// state as flat F32 tensors named <c>optimizer.*</c> (for example <c>optimizer.m</c> and <c>optimizer.v</c> for AdamW,
    /// of the trainable length) and its type, step count, learning rate, hyperparameters, clipping and schedule in the
    /// metadata (keys <c>modelgen.optimizer*</c>). <see cref="Load(string, Optimizer)"/> restores both.
    /// </summary>
    public void Save(string path, Optimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        for (int i = 0; i < Parameters.Count; i++)
            if (Parameters[i].Name.StartsWith(Optimizer.StatePrefix, StringComparison.Ordinal))
                throw new InvalidOperationException(
                    $"Parameter '{Parameters[i].Name}' starts with '{Optimizer.StatePrefix}', the prefix reserved for optimizer state; rename the layer to save optimizer state.");
        if (_session != null)
        {
            _session.Download();
            _session.DownloadOptimizer(optimizer);
        }
        var metadata = optimizer.ExportMetadata();
        metadata["modelgen.model"] = Description.Name;
        SafeTensors.Save(path, Parameters, metadata, optimizer.ExportState(Parameters), afterHeader: null);
    }

    /// <summary>
    /// Reads every parameter from a safetensors file. The file is validated against the model first; on any problem
    /// a <see cref="CheckpointException"/> lists them all and the parameters are unchanged. Optimizer state in the file
    /// (from <see cref="Save(string, Optimizer)"/>) is ignored.
    /// </summary>
    public void Load(string path)
    {
        SafeTensors.Load(path, Parameters);
        _session?.Upload();
    }

    /// <summary>
    /// Reads a resumable checkpoint written by <see cref="Save(string, Optimizer)"/>: the parameters, and
    /// <paramref name="optimizer"/>'s state buffers, step count and learning rate (restored, as PyTorch's
    /// <c>load_state_dict</c> does). The optimizer must be of the same type with the same hyperparameters, gradient
    /// clipping and schedule, and fresh or already bound to this model. Everything is checked first: on any problem a
    /// <see cref="CheckpointException"/> names each difference and neither the model nor the optimizer changes.
    /// Then continue with <c>Fit(..., optimizer: optimizer, initialEpoch: k)</c>.
    /// </summary>
    public void Load(string path, Optimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        SafeTensors.Load(path, Parameters, optimizer);
        if (_session != null)
        {
            _session.Upload();
            _session.UploadOptimizer(optimizer);
        }
    }

    /// <summary>A new compiled program on the model's device (see <see cref="To"/>) for batches of up to <paramref name="maxBatch"/>, for loops that drive programs themselves (the char-LM samples, benchmarks, tests).</summary>
    public CompiledProgram NewProgram(int maxBatch) => Create(maxBatch);

    /// <summary>Copies the parameters and gradients from the model's device to the host store (nothing to do on the CPU).</summary>
    internal void SyncFromDevice() => _session?.Download();

    CompiledProgram TrainProgram(int batch)
    {
        if (_trainProgram == null || _trainProgram.MaxBatch < batch)
        {
            _trainProgram?.Dispose();
            _trainProgram = Create(batch);
        }
        return _trainProgram;
    }

    CompiledProgram EvalProgram(int batch)
    {
        if (_evalProgram == null || _evalProgram.MaxBatch < batch)
        {
            _evalProgram?.Dispose();
            _evalProgram = Create(batch);
            _evalOutput = new float[checked(batch * OutputLength)];
        }
        return _evalProgram;
    }

    CompiledProgram Create(int batch)
    {
        var program = _session == null ? CreateProgram(batch) : CreateDeviceProgram(_session, batch);
        if (program == null || program.MaxBatch < batch)
            throw new InvalidOperationException($"{Description.Name}.CreateProgram({batch}) returned a program for at most {program?.MaxBatch ?? 0} samples.");
        return program;
    }

    void CheckDataset(Dataset data, string name)
    {
        if (!data.SampleShape.AsSpan().SequenceEqual(Description.InputShape))
            throw new ArgumentException(
                $"The samples of '{name}' have shape {Tensor.FormatShape(data.SampleShape)} but {Description.Name} takes inputs of shape {Tensor.FormatShape(Description.InputShape)}.", name);
        switch (Description.Target)
        {
            case TargetKind.None:
                throw new InvalidOperationException($"{Description.Name} has no [Loss] method, so it can predict but not train or evaluate.");
            case TargetKind.Labels:
                if (data.Labels == null)
                    throw new ArgumentException($"{Description.Name} is trained with class labels (its loss takes Labels) but '{name}' has float targets and no labels.", name);
                if (Description.OutputShape.Length != 1)
                    throw new InvalidOperationException($"{Description.Name} takes class labels but its output shape {Tensor.FormatShape(Description.OutputShape)} is not a vector of class scores.");
                if (data.ClassCount > OutputLength)
                    throw new ArgumentException($"'{name}' has {data.ClassCount} classes but {Description.Name} outputs {OutputLength} class scores.", name);
                break;
            case TargetKind.Tensor:
                if (data.Targets == null)
                    throw new ArgumentException($"{Description.Name} is trained with tensor targets (its loss takes a Tensor) but '{name}' has class labels and no targets.", name);
                if (!data.TargetShape.AsSpan().SequenceEqual(Description.OutputShape))
                    throw new ArgumentException(
                        $"The targets of '{name}' have shape {Tensor.FormatShape(data.TargetShape!)} but {Description.Name} outputs shape {Tensor.FormatShape(Description.OutputShape)}.", name);
                break;
        }
    }

    static string FormatDims(int[] shape)
    {
        string s = Tensor.FormatShape(shape);
        return s.Substring(1, s.Length - 2);
    }

    internal static long CountCorrect(ReadOnlySpan<float> outputs, ReadOnlySpan<int> labels, int rows, int classes)
    {
        long correct = 0;
        for (int r = 0; r < rows; r++)
            if (ArgMax(outputs.Slice(r * classes, classes)) == labels[r]) correct++;
        return correct;
    }

    /// <summary>Index of the first largest element (NaN never wins).</summary>
    internal static int ArgMax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int i = 1; i < row.Length; i++)
            if (row[i] > row[best]) best = i;
        return best;
    }

    /// <summary><c>-log softmax(logits)[label]</c> by a stable log-sum-exp, in double.</summary>
    internal static double RowCrossEntropy(ReadOnlySpan<float> logits, int label)
    {
        float max = logits[0];
        for (int i = 1; i < logits.Length; i++) if (logits[i] > max) max = logits[i];
        double sum = 0;
        for (int i = 0; i < logits.Length; i++) sum += Math.Exp((double)logits[i] - max);
        return Math.Log(sum) + max - logits[label];
    }
}
