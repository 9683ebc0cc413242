// The workflow editor: a form built from the workflow JSON Schema the page embeds (#editor-data),
// kept in sync with a YAML/JSON text view, validated live by the server (each error shown at the
// input whose data-path is the error's path), dry-run, compared with the current version and saved.
//
// Invariants: no form is written per action or per trigger type: `schemaField` builds every input
// from the schema (an action added later gets a form for free); the only per-field additions are the
// registry pickers (entity, fields), the cron preview and the condition builder, whose operators come
// from the one operator table. Text reaches the page through textContent / attributes only (never
// innerHTML), so a name like <script> shows as text. Every call sends the page's CSRF token.
(function () {
  "use strict";
  var root = document.getElementById("editor");
  var dataNode = document.getElementById("editor-data");
  if (!root || !dataNode) {
    return;
  }
  var DATA = JSON.parse(dataNode.textContent);
  var SCHEMA = DATA.schema;
  var DEFS = SCHEMA.$defs || {};
  var ACTIONS = DEFS.actions || {};
  var REGISTRY = DATA.registry || {};
  var OPERATORS = DATA.operators || [];
  var CSRF = root.getAttribute("data-csrf");
  var URLS = {
    check: root.getAttribute("data-check-url"),
    parse: root.getAttribute("data-parse-url"),
    cron: root.getAttribute("data-cron-url"),
    dryRun: root.getAttribute("data-dry-run-url"),
    diff: root.getAttribute("data-diff-url"),
    save: root.getAttribute("data-save-url")
  };
  var EDITING = Boolean(DATA.key);
  var state = { def: clone(DATA.definition), errors: [], textFormat: "yaml", checkSeq: 0, reviewed: false };
  var idCounter = 0;

  // --- small helpers ---------------------------------------------------------------------------

  function clone(value) {
    return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
  }

  function uid(prefix) {
    idCounter += 1;
    return (prefix || "e") + "-" + idCounter;
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === null || value === undefined || value === false) {
        return;
      }
      if (name === "text") {
        node.textContent = value;
      } else if (name.slice(0, 2) === "on") {
        node.addEventListener(name.slice(2), value);
      } else if (name === "value") {
        node.value = value;
      } else if (name === "checked") {
        node.checked = Boolean(value);
      } else {
        node.setAttribute(name, value === true ? "" : String(value));
      }
    });
    (children || []).forEach(function (child) {
      if (child !== null && child !== undefined) {
        node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
      }
    });
    return node;
  }

  function join(path, key) {
    if (typeof key === "number") {
      return path + "[" + key + "]";
    }
    return path ? path + "." + key : key;
  }

  function labelFor(name) {
    var text = String(name).replace(/_/g, " ");
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  function isEmpty(value) {
    return value === undefined || value === null || value === "" ||
      (Array.isArray(value) && value.length === 0) ||
      (typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 0);
  }

  function put(target, key, value) {
    if (isEmpty(value) && !Array.isArray(target)) {
      delete target[key];
    } else {
      target[key] = value;
    }
  }

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": CSRF, "Accept": "application/json" },
      body: JSON.stringify(body)
    }).then(function (response) {
      var type = response.headers.get("content-type") || "";
      if (type.indexOf("application/json") === -1) {
        return response.text().then(function (text) {
          var doc = new DOMParser().parseFromString(text, "text/html");
          var message = doc.querySelector("[role=alert]");
          throw new Error(message ? message.textContent : "The server answered " + response.status + ".");
        });
      }
      return response.json();
    });
  }

  function resolve(schema) {
    var seen = 0;
    while (schema && schema.$ref && seen < 20) {
      var name = schema.$ref.split("/").pop();
      var rest = Object.assign({}, schema);
      delete rest.$ref;
      schema = Object.assign({}, DEFS[name] || {}, rest);
      seen += 1;
    }
    return schema || {};
  }

  function variants(schema) {
    var list = schema.anyOf || schema.oneOf || [];
    return list.map(resolve).filter(function (v) { return v.type !== "null"; });
  }

  // --- fields ----------------------------------------------------------------------------------

  function fieldBox(path, label, hint, control, required, extraClass) {
    var id = control.id || uid("f");
    control.id = id;
    control.setAttribute("data-path", path);
    var hintId = hint ? id + "-hint" : null;
    if (hintId) {
      control.setAttribute("aria-describedby", hintId);
    }
    var labelNode = el("label", { "for": id }, [label, required ? el("span", { "class": "req", "aria-hidden": "true", text: " *" }) : null]);
    var box = el("div", { "class": "field" + (extraClass ? " " + extraClass : ""), "data-field": path }, []);
    if (control.type === "checkbox") {
      box.className += " field-check";
      box.appendChild(control);
      box.appendChild(labelNode);
    } else {
      box.appendChild(labelNode);
      if (hint) {
        box.appendChild(el("p", { "class": "hint", id: hintId, text: hint }));
      }
      box.appendChild(control);
    }
    if (hint && control.type === "checkbox") {
      box.appendChild(el("p", { "class": "hint", id: hintId, text: hint }));
    }
    return box;
  }

  function parseLoose(text) {
    // a value typed where any JSON value fits: numbers, true/false, null, [..] and {..} as JSON, else text
    var trimmed = text.trim();
    if (trimmed === "") {
      return undefined;
    }
    if (/^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null)$/.test(trimmed) || /^[\[{]/.test(trimmed)) {
      try {
        return JSON.parse(trimmed);
      } catch (error) {
        return text;
      }
    }
    return text;
  }

  function shown(value) {
    if (value === undefined || value === null) {
      return "";
    }
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  function numberOrText(text, integer) {
    var trimmed = text.trim();
    if (trimmed === "") {
      return undefined;
    }
    var pattern = integer ? /^-?\d+$/ : /^-?\d+(\.\d+)?$/;
    return pattern.test(trimmed) ? Number(trimmed) : text;
  }

  var LONG_TEXT = /(^|_)(body|html|description|message|text|note|content|payload|template)$/;

  // A form control for `schema` at `path`; `get`/`set` read and write the value in the definition.
  function schemaField(schema, name, path, get, set, required) {
    var ownTitle = schema.title;  // the property's own, before a $ref brings the model's (StepNotice)
    schema = resolve(schema);
    var label = schema.title && !/^[A-Z][a-z0-9]+([A-Z][a-z0-9]*)+$/.test(schema.title) ? schema.title : labelFor(name);
    var hint = schema.description || null;
    var value = get();
    if (schema.const !== undefined) {
      return null;
    }
    var options = variants(schema);
    if ((schema.anyOf || schema.oneOf) && options.length === 1) {
      if (optional(schema, options[0])) {
        return optionalObject(options[0], path, get, set, ownTitle || labelFor(name), hint);
      }
      var inner = Object.assign({}, options[0], { title: schema.title || options[0].title, description: hint || options[0].description, examples: schema.examples || options[0].examples });
      return schemaField(inner, name, path, get, set, required);
    }
    if (schema.discriminator || (options.length > 1 && options.every(function (o) { return o.type === "object" && o.properties; }))) {
      return unionField(schema, options, name, path, get, set, label, hint);
    }
    if (options.length > 1) {
      var types = options.map(function (o) { return o.type; });
      if (types.every(function (t) { return ["string", "integer", "number"].indexOf(t) !== -1; })) {
        var mixed = el("input", { type: "text", value: shown(value), autocomplete: "off" });
        mixed.addEventListener("input", function () {
          set(types.indexOf("string") === -1 || /^-?\d+$/.test(mixed.value.trim()) ? numberOrText(mixed.value, types.indexOf("number") === -1) : (mixed.value === "" ? undefined : mixed.value));
          changed();
        });
        return fieldBox(path, label, hint, mixed, required);
      }
      return jsonField(name, path, label, hint, get, set, required);
    }
    if (schema.enum) {
      var select = el("select", {}, [required ? null : el("option", { value: "", text: "(default" + (schema.default !== undefined ? ": " + schema.default : "") + ")" })].concat(
        schema.enum.map(function (choice) { return el("option", { value: String(choice), text: String(choice) }); })));
      select.value = value === undefined || value === null ? "" : String(value);
      select.addEventListener("change", function () { set(select.value === "" ? undefined : select.value); changed(); });
      return fieldBox(path, label, hint, select, required);
    }
    if (schema.type === "boolean") {
      var box = el("input", { type: "checkbox", checked: value === undefined ? schema.default === true : value });
      box.addEventListener("change", function () { set(box.checked === (schema.default === true) && value === undefined ? undefined : box.checked); changed(); });
      return fieldBox(path, label, hint, box, false);
    }
    if (schema.type === "integer" || schema.type === "number") {
      var num = el("input", { type: "text", inputmode: schema.type === "integer" ? "numeric" : "decimal", value: shown(value), placeholder: schema.default !== undefined ? String(schema.default) : null, autocomplete: "off" });
      num.addEventListener("input", function () { set(numberOrText(num.value, schema.type === "integer")); changed(); });
      return fieldBox(path, label, hint, num, required);
    }
    if (schema.type === "string" || (!schema.type && (typeof value === "string"))) {
      // a name with a pattern (a template's name, a key) is one line; text that may be long is an area
      var long = !schema.pattern && (LONG_TEXT.test(name) || (typeof value === "string" && value.indexOf("\n") !== -1));
      var input = long ? el("textarea", { rows: "3" }) : el("input", { type: "text", autocomplete: "off", placeholder: schema.default ? String(schema.default) : null });
      input.value = value === undefined || value === null ? "" : String(value);
      input.addEventListener("input", function () { set(input.value === "" ? undefined : input.value); changed(); });
      var stringBox = fieldBox(path, label, hint, input, required);
      if (!long && Array.isArray(schema.examples) && schema.examples.length) {
        // what the server offers (the named notification templates): suggestions, any valid value goes
        var listId = uid("dl");
        input.setAttribute("list", listId);
        stringBox.appendChild(el("datalist", { id: listId }, schema.examples.map(function (choice) { return el("option", { value: String(choice) }); })));
      }
      return stringBox;
    }
    if (schema.type === "array") {
      var items = resolve(schema.items || {});
      if (items.type === "object" || items.anyOf || items.oneOf) {
        return arrayOfObjects(items, name, path, label, hint, get, set);
      }
      var area = el("textarea", { rows: "2" });
      area.value = (value || []).map(shown).join("\n");
      area.addEventListener("input", function () {
        var lines = area.value.split("\n").map(function (l) { return l.trim(); }).filter(Boolean);
        set(lines.map(function (line) { return items.type === "integer" || items.type === "number" ? numberOrText(line, items.type === "integer") : line; }));
        changed();
      });
      return fieldBox(path, label + " (one per line)", hint, area, required);
    }
    if (schema.type === "object" && schema.properties) {
      return objectFieldset(schema, label, path, get, set, hint);
    }
    if (schema.type === "object" && schema.additionalProperties && typeof schema.additionalProperties === "object" && resolve(schema.additionalProperties).properties) {
      return mapField(resolve(schema.additionalProperties), name, path, label, hint, get, set);
    }
    if (schema.type === "object" || schema.type === undefined) {
      if (schema.type === undefined && (value === undefined || typeof value !== "object")) {
        var any = el("input", { type: "text", value: shown(value), autocomplete: "off" });
        any.addEventListener("input", function () { set(parseLoose(any.value)); changed(); });
        return fieldBox(path, label, hint, any, required);
      }
      return jsonField(name, path, label, hint, get, set, required);
    }
    return jsonField(name, path, label, hint, get, set, required);
  }

  // A nullable object that means something once set (it has required fields, or defaults that say
  // something, as a step notice's `notification: true`): a checkbox in its legend ("On failure") turns
  // it on, with those defaults, and shows its fields; off removes it. Errors at its path show there.
  function optional(schema, option) {
    var list = schema.anyOf || schema.oneOf || [];
    var nullable = list.some(function (v) { return resolve(v).type === "null"; });
    return nullable && option.type === "object" && Boolean(option.properties) &&
      ((option.required || []).length > 0 || !isEmpty(defaultsOf(option)));
  }

  function defaultsOf(option) {
    var start = {};
    Object.keys(option.properties || {}).forEach(function (prop) {
      var fallback = resolve(option.properties[prop])["default"];
      if (!isEmpty(fallback) && typeof fallback !== "object") {
        start[prop] = fallback;
      }
    });
    return start;
  }

  function optionalObject(option, path, get, set, label, hint) {
    var value = get();
    var toggle = el("input", { type: "checkbox", id: uid("f"), "data-path": path, checked: value !== undefined && value !== null });
    var legend = el("legend", { "class": "toggle" }, [toggle, el("label", { "for": toggle.id, text: label })]);
    var fieldset = el("fieldset", { "class": "group optional", "data-field": path }, [legend]);
    if (hint) {
      var hintNode = el("p", { "class": "hint", id: toggle.id + "-hint", text: hint });
      toggle.setAttribute("aria-describedby", hintNode.id);
      fieldset.appendChild(hintNode);
    }
    var body = el("div", {});
    function draw() {
      body.textContent = "";
      if (toggle.checked) {
        var inner = objectFieldset(option, label, path, get, set);
        inner.removeChild(inner.querySelector("legend"));
        inner.className = "optional-body";
        body.appendChild(inner);
      }
    }
    toggle.addEventListener("change", function () {
      if (toggle.checked) {
        var start = defaultsOf(option);
        set(isEmpty(start) ? undefined : start);
      } else {
        set(undefined);
      }
      draw();
      changed();
    });
    fieldset.appendChild(body);
    draw();
    return fieldset;
  }

  function jsonField(name, path, label, hint, get, set, required) {
    var area = el("textarea", { rows: "3", spellcheck: "false", "class": "mono" });
    var value = get();
    area.value = value === undefined ? "" : JSON.stringify(value, null, 2);
    var local = el("p", { "class": "field-error", hidden: true, "data-local": "1" });
    area.addEventListener("input", function () {
      if (area.value.trim() === "") {
        set(undefined);
        local.hidden = true;
        changed();
        return;
      }
      try {
        set(JSON.parse(area.value));
        local.hidden = true;
        area.removeAttribute("aria-invalid");
        changed();
      } catch (error) {
        local.textContent = "Not JSON yet: " + error.message;
        local.hidden = false;
        area.setAttribute("aria-invalid", "true");
      }
    });
    var box = fieldBox(path, label + " (JSON)", hint, area, required);
    box.appendChild(local);
    return box;
  }

  function objectFieldset(schema, label, path, get, set, hint, skip) {
    var current = get();
    if (!current || typeof current !== "object" || Array.isArray(current)) {
      current = {};
    }
    var fieldset = el("fieldset", { "class": "group", "data-field": path }, [el("legend", { text: label })]);
    if (hint) {
      fieldset.appendChild(el("p", { "class": "hint", text: hint }));
    }
    var required = schema.required || [];
    var names = Object.keys(schema.properties || {});
    names = names.filter(function (p) { return required.indexOf(p) !== -1; }).concat(names.filter(function (p) { return required.indexOf(p) === -1; }));
    names.forEach(function (prop) {
      if (skip && skip.indexOf(prop) !== -1) {
        return;
      }
      var node = schemaField(schema.properties[prop], prop, join(path, prop),
        function () { return current[prop]; },
        function (v) {
          put(current, prop, v);
          set(isEmpty(current) ? undefined : current);
        }, required.indexOf(prop) !== -1);
      if (node) {
        fieldset.appendChild(node);
      }
    });
    return fieldset;
  }

  function unionField(schema, options, name, path, get, set, label, hint) {
    var value = get();
    var tagName = schema.discriminator ? schema.discriminator.propertyName : null;
    if (!tagName) {
      var first = options[0].properties || {};
      tagName = Object.keys(first).filter(function (p) { return first[p].const !== undefined; })[0] || null;
    }
    var tagOf = function (option) { return tagName && option.properties[tagName] ? option.properties[tagName].const : option.title; };
    var wrap = el("fieldset", { "class": "group", "data-field": path }, [el("legend", { text: label })]);
    if (hint) {
      wrap.appendChild(el("p", { "class": "hint", text: hint }));
    }
    var select = el("select", {}, [el("option", { value: "", text: "(default)" })].concat(options.map(function (o) {
      return el("option", { value: tagOf(o), text: String(tagOf(o)).replace(/_/g, " ") });
    })));
    var chosen = value && tagName ? value[tagName] : "";
    select.value = chosen || "";
    var body = el("div", {});
    function draw() {
      body.textContent = "";
      var option = options.filter(function (o) { return tagOf(o) === select.value; })[0];
      if (!option) {
        return;
      }
      var current = get() || {};
      body.appendChild(objectFieldset(option, String(select.value).replace(/_/g, " ") + " options", path,
        function () { return current; },
        function (v) { current = Object.assign({}, v || {}); if (tagName) { current[tagName] = select.value; } set(current); }, null, [tagName]));
    }
    select.addEventListener("change", function () {
      if (select.value === "") {
        set(undefined);
      } else {
        var next = {};
        next[tagName] = select.value;
        set(next);
      }
      draw();
      changed();
    });
    wrap.appendChild(fieldBox(join(path, tagName || "type"), labelFor(tagName || "kind"), null, select, false));
    wrap.appendChild(body);
    draw();
    return wrap;
  }

  function arrayOfObjects(items, name, path, label, hint, get, set) {
    var list = (get() || []).slice();
    var fieldset = el("fieldset", { "class": "group", "data-field": path }, [el("legend", { text: label })]);
    if (hint) {
      fieldset.appendChild(el("p", { "class": "hint", text: hint }));
    }
    var body = el("div", {});
    function draw() {
      body.textContent = "";
      list.forEach(function (item, index) {
        var node = schemaField(items, name + " " + (index + 1), join(path, index),
          function () { return list[index]; },
          function (v) { list[index] = v === undefined ? {} : v; set(list.slice()); });
        var remove = el("button", { type: "button", text: "Remove " + labelFor(name) + " " + (index + 1) });
        remove.addEventListener("click", function () { list.splice(index, 1); set(list.slice()); draw(); changed(); });
        body.appendChild(el("div", { "class": "array-item" }, [node, remove]));
      });
    }
    var add = el("button", { type: "button", text: "Add to " + label });
    add.addEventListener("click", function () { list.push({}); set(list.slice()); draw(); changed(); });
    fieldset.appendChild(body);
    fieldset.appendChild(add);
    draw();
    return fieldset;
  }

  function mapField(itemSchema, name, path, label, hint, get, set) {
    var map = Object.assign({}, get() || {});
    var fieldset = el("fieldset", { "class": "group", "data-field": path }, [el("legend", { text: label })]);
    if (hint) {
      fieldset.appendChild(el("p", { "class": "hint", text: hint }));
    }
    var body = el("div", {});
    function draw() {
      body.textContent = "";
      Object.keys(map).forEach(function (entry) {
        var nameInput = el("input", { type: "text", value: entry, autocomplete: "off" });
        nameInput.addEventListener("change", function () {
          var renamed = {};
          Object.keys(map).forEach(function (k) { renamed[k === entry ? nameInput.value.trim() : k] = map[k]; });
          map = renamed;
          set(Object.assign({}, map));
          draw();
          changed();
        });
        var node = schemaField(itemSchema, entry, join(path, entry), function () { return map[entry]; },
          function (v) { map[entry] = v === undefined ? {} : v; set(Object.assign({}, map)); });
        var remove = el("button", { type: "button", text: "Remove " + entry });
        remove.addEventListener("click", function () { delete map[entry]; set(Object.assign({}, map)); draw(); changed(); });
        body.appendChild(el("div", { "class": "array-item" }, [fieldBox(join(path, entry) + ".__name", "Name", null, nameInput, true), node, remove]));
      });
    }
    var add = el("button", { type: "button", text: "Add to " + label });
    add.addEventListener("click", function () {
      var n = Object.keys(map).length + 1;
      while (map["input_" + n]) { n += 1; }
      map["input_" + n] = {};
      set(Object.assign({}, map));
      draw();
      changed();
    });
    fieldset.appendChild(body);
    fieldset.appendChild(add);
    draw();
    return fieldset;
  }

  // --- basics ------------------------------------------------------------------------------------

  function textInput(path, label, hint, value, onInput, attrs) {
    var input = el("input", Object.assign({ type: "text", value: value || "", autocomplete: "off" }, attrs || {}));
    input.addEventListener("input", function () { onInput(input.value); changed(); });
    return fieldBox(path, label, hint, input, attrs && attrs.required);
  }

  function renderBasics(section) {
    var def = state.def;
    def.settings = def.settings || {};
    section.appendChild(textInput("name", "Name", "Shown in lists and on the DAG page.", def.name, function (v) { def.name = v; }, { required: true }));
    section.appendChild(textInput("key", "Key", EDITING ? "The key cannot change once saved (the DAG id is automation__<key>)." : "Lowercase letters, digits, - and _; the DAG id is automation__<key>.", def.key,
      function (v) { def.key = v; updateWebhookUrl(); }, { required: true, readonly: EDITING ? "readonly" : null }));
    var description = el("textarea", { rows: "2" });
    description.value = def.description || "";
    description.addEventListener("input", function () { put(def, "description", description.value); changed(); });
    section.appendChild(fieldBox("description", "Description", null, description, false));
    section.appendChild(textInput("settings.tags", "Tags", "Comma-separated; shown on the DAG.", (def.settings.tags || []).join(", "), function (v) {
      put(def.settings, "tags", v.split(",").map(function (t) { return t.trim(); }).filter(Boolean));
    }));
    section.appendChild(textInput("settings.owner", "Owner", "The DAG's owner in Airflow.", def.settings.owner, function (v) { put(def.settings, "owner", v.trim()); }));
    var status = el("select", {}, DATA.statuses.map(function (s) {
      var note = s === "ACTIVE" ? " (runs on its trigger)" : s === "DRAFT" ? " (no DAG)" : " (DAG paused)";
      return el("option", { value: s, text: s.charAt(0) + s.slice(1).toLowerCase() + note });
    }));
    status.value = def.status || "DRAFT";
    status.addEventListener("change", function () { def.status = status.value; changed(); });
    section.appendChild(fieldBox("status", "Status", null, status, false));
  }

  // --- trigger -----------------------------------------------------------------------------------

  var TRIGGER_MAP = (SCHEMA.properties.trigger.discriminator || {}).mapping || {};
  var webhookUrlNode = null;

  function updateWebhookUrl() {
    if (webhookUrlNode) {
      webhookUrlNode.textContent = DATA.webhook_base + (state.def.key || "<key>");
    }
  }

  function entityOf(trigger) {
    var entity = trigger && trigger.entity;
    return Array.isArray(entity) ? entity[0] : entity;
  }

  function entitySelect(path, trigger, onChange) {
    var names = Object.keys(REGISTRY);
    var select = el("select", { required: true }, [el("option", { value: "", text: "(choose a collection)" })].concat(names.map(function (n) { return el("option", { value: n, text: n }); })));
    select.value = entityOf(trigger) || "";
    select.addEventListener("change", function () { trigger.entity = select.value || undefined; onChange(); changed(); });
    return fieldBox(path, "Entity", "The collection of the collections registry whose records fire the workflow.", select, true);
  }

  function checkboxGroup(path, legend, hint, choices, selected, onChange) {
    var fieldset = el("fieldset", { "class": "group checks", "data-field": path }, [el("legend", { text: legend })]);
    if (hint) {
      fieldset.appendChild(el("p", { "class": "hint", text: hint }));
    }
    var picked = (selected || []).slice();
    choices.forEach(function (choice) {
      var box = el("input", { type: "checkbox", checked: picked.indexOf(choice) !== -1, value: choice, id: uid("c") });
      box.addEventListener("change", function () {
        picked = picked.filter(function (c) { return c !== choice; });
        if (box.checked) {
          picked.push(choice);
        }
        onChange(picked.slice());
        changed();
      });
      fieldset.appendChild(el("span", { "class": "check" }, [box, el("label", { "for": box.id, text: choice })]));
    });
    return fieldset;
  }

  function cronPreview(path, getCron, getZone) {
    var box = el("div", { "class": "cron-preview", "aria-live": "polite", "data-cron-for": path });
    var refresh = debounce(function () {
      var expression = getCron();
      if (!expression) {
        box.textContent = "";
        return;
      }
      post(URLS.cron, { cron: expression, timezone: getZone() || "UTC" }).then(function (answer) {
        box.textContent = "";
        if (answer.error) {
          box.appendChild(el("p", { "class": "field-error", text: answer.error }));
          return;
        }
        box.appendChild(el("p", {}, [el("strong", { text: answer.description })]));
        box.appendChild(el("p", { "class": "hint", text: "Next times:" }));
        box.appendChild(el("ol", { "class": "next-times" }, answer.next.map(function (t) { return el("li", {}, [el("time", { datetime: t, text: t.replace("T", " ") })]); })));
      }).catch(function (error) { box.textContent = error.message; });
    }, 300);
    refresh();
    return { node: box, refresh: refresh };
  }

  function renderTrigger(section) {
    var def = state.def;
    def.trigger = def.trigger || { type: "record_event" };
    var trigger = def.trigger;
    var typeSelect = el("select", {}, Object.keys(TRIGGER_MAP).map(function (t) { return el("option", { value: t, text: t.replace(/_/g, " ") }); }));
    typeSelect.value = trigger.type;
    typeSelect.addEventListener("change", function () {
      def.trigger = { type: typeSelect.value };
      if (typeSelect.value === "record_event") {
        def.trigger.events = ["created", "updated"];
      }
      rerender();
      changed();
    });
    section.appendChild(fieldBox("trigger.type", "Trigger type", "What starts a run.", typeSelect, true));
    var schema = resolve({ $ref: TRIGGER_MAP[trigger.type] });
    var body = el("div", {});
    section.appendChild(body);
    var custom = {};
    if (schema.properties && schema.properties.entity) {
      custom.entity = entitySelect("trigger.entity", trigger, rerender);
    }
    var entity = entityOf(trigger);
    var columns = entity && REGISTRY[entity] ? Object.keys(REGISTRY[entity].columns) : [];
    if (trigger.type === "record_event") {
      var known = ["created", "updated", "deleted"];
      var extra = (trigger.events || []).filter(function (e) { return known.indexOf(e) === -1; });
      var events = checkboxGroup("trigger.events", "Events", "Custom event names your app emits can be added below.", known, trigger.events, function (picked) {
        trigger.events = picked.concat(extra);
      });
      var other = el("input", { type: "text", value: extra.join(", "), autocomplete: "off" });
      other.addEventListener("input", function () {
        extra = other.value.split(",").map(function (e) { return e.trim(); }).filter(Boolean);
        trigger.events = (trigger.events || []).filter(function (e) { return known.indexOf(e) !== -1; }).concat(extra);
        changed();
      });
      events.appendChild(fieldBox("trigger.events.custom", "Other events (comma-separated)", null, other, false));
      custom.events = events;
      if (columns.length) {
        custom.fields = checkboxGroup("trigger.fields", "Only when these fields change", "For updates; none = any change.", columns, trigger.fields, function (picked) {
          put(trigger, "fields", picked);
        });
      }
    }
    if (trigger.type === "inactivity" && columns.length) {
      var activity = el("select", {}, columns.map(function (c) { return el("option", { value: c, text: c }); }));
      activity.value = trigger.activity_field || "updated_at";
      activity.addEventListener("change", function () { trigger.activity_field = activity.value; changed(); });
      custom.activity_field = fieldBox("trigger.activity_field", "Activity field", "The date column that says when the record last moved.", activity, false);
    }
    var required = schema.required || [];
    Object.keys(schema.properties || {}).forEach(function (prop) {
      if (prop === "type") {
        return;
      }
      if (custom[prop]) {
        body.appendChild(custom[prop]);
        return;
      }
      var node = schemaField(schema.properties[prop], prop, join("trigger", prop), function () { return trigger[prop]; },
        function (v) { put(trigger, prop, v); if (preview && (prop === "cron" || prop === "scan_cron" || prop === "timezone")) { preview.refresh(); } },
        required.indexOf(prop) !== -1);
      if (node) {
        body.appendChild(node);
      }
    });
    var preview = null;
    var props = schema.properties || {};
    var cronProp = props.cron ? "cron" : props.scan_cron ? "scan_cron" : null;
    if (cronProp) {
      preview = cronPreview("trigger." + cronProp, function () { return trigger[cronProp] || props[cronProp].default || ""; }, function () { return trigger.timezone; });
      var anchor = body.querySelector("[data-field='trigger." + cronProp + "']");
      (anchor || body).appendChild(preview.node);
    }
    if (trigger.type === "webhook") {
      webhookUrlNode = el("code", {});
      updateWebhookUrl();
      body.insertBefore(el("div", { "class": "notice" }, [
        el("p", {}, ["Deliveries go to ", webhookUrlNode, " (POST, no Airflow login)."]),
        el("p", { "class": "hint", text: "Each is verified by the signing scheme below; the secret is the password of the Airflow connection named by Secret conn id (default automation_webhook_<key with - as _>)." })
      ]), body.firstChild);
    }
  }

  // --- conditions ----------------------------------------------------------------------------------

  var GROUP_KINDS = [["all", "All of (and)"], ["any", "Any of (or)"], ["not", "Not"], ["clause", "A field test"], ["jsonlogic", "JSONLogic"]];

  function kindOf(node) {
    if (!node || typeof node !== "object") {
      return "clause";
    }
    if (node.all) { return "all"; }
    if (node.any) { return "any"; }
    if (node.not !== undefined) { return "not"; }
    if (node.jsonlogic !== undefined) { return "jsonlogic"; }
    return "clause";
  }

  function fieldInfo(field) {
    var entity = entityOf(state.def.trigger);
    var fields = entity && REGISTRY[entity] ? REGISTRY[entity].fields : [];
    return fields.filter(function (f) { return f.path === field; })[0] || null;
  }

  function datalistId() {
    var entity = entityOf(state.def.trigger);
    return entity && REGISTRY[entity] ? "fields-" + entity : null;
  }

  function typedValue(text, op, info) {
    var listOps = ["in", "not_in"];
    var type = info ? info.type : null;
    function one(piece) {
      if (type === "integer" || type === "number") {
        return numberOrText(piece, type === "integer");
      }
      if (type === "boolean") {
        return piece.trim() === "true" ? true : piece.trim() === "false" ? false : piece;
      }
      if (type === "string" || type === "date" || type === "datetime") {
        return piece;
      }
      return parseLoose(piece);
    }
    if (listOps.indexOf(op) !== -1) {
      return text.split(",").map(function (p) { return p.trim(); }).filter(Boolean).map(one);
    }
    if (["older_than_days", "newer_than_days"].indexOf(op) !== -1) {
      return numberOrText(text, false);
    }
    return text === "" ? undefined : one(text);
  }

  function clauseEditor(node, path, set) {
    var wrap = el("div", { "class": "clause" });
    var field = el("input", { type: "text", value: node.field || "", autocomplete: "off", list: datalistId(), placeholder: "deal.amount" });
    var op = el("select", {}, OPERATORS.map(function (o) { return el("option", { value: o.name, text: o.words, title: o.values }); }));
    op.value = node.op || "==";
    var value = el("input", { type: "text", value: Array.isArray(node.value) ? node.value.map(shown).join(", ") : shown(node.value), autocomplete: "off" });
    var valueHint = el("p", { "class": "hint" });
    function sync() {
      var spec = OPERATORS.filter(function (o) { return o.name === op.value; })[0] || {};
      var info = fieldInfo(field.value.trim());
      valueBox.hidden = Boolean(spec.unary);
      valueHint.textContent = (spec.values || "") + (info ? " (" + field.value.trim() + " is " + info.type + ")" : "");
      var clause = { field: field.value.trim(), op: op.value };
      if (info && info.relation) {
        var rel = REGISTRY[entityOf(state.def.trigger)].relations[info.relation];
        clause.via = node.via || (state.def.trigger && state.def.trigger.alias ? state.def.trigger.alias : singular(entityOf(state.def.trigger))) + "." + rel.column;
      } else if (node.via) {
        clause.via = node.via;
      }
      if (!spec.unary) {
        var typed = typedValue(value.value, op.value, info);
        if (typed !== undefined) {
          clause.value = typed;
        }
      }
      set(clause);
    }
    field.addEventListener("input", function () { sync(); changed(); });
    op.addEventListener("change", function () { sync(); changed(); });
    value.addEventListener("input", function () { sync(); changed(); });
    wrap.appendChild(fieldBox(join(path, "field"), "Field", null, field, true, "inline"));
    wrap.appendChild(fieldBox(join(path, "op"), "Operator", null, op, true, "inline"));
    var valueBox = fieldBox(join(path, "value"), "Value", null, value, false, "inline");
    valueBox.appendChild(valueHint);
    wrap.appendChild(valueBox);
    var spec = OPERATORS.filter(function (o) { return o.name === op.value; })[0] || {};
    valueBox.hidden = Boolean(spec.unary);
    var info = fieldInfo(node.field);
    valueHint.textContent = (spec.values || "") + (info ? " (" + node.field + " is " + info.type + ")" : "");
    return wrap;
  }

  function singular(entity) {
    if (!entity) { return ""; }
    if (entity.length > 3 && entity.slice(-3) === "ies") { return entity.slice(0, -3) + "y"; }
    if (entity.slice(-1) === "s" && entity.slice(-2) !== "ss") { return entity.slice(0, -1); }
    return entity;
  }

  function emptyOf(kind) {
    if (kind === "all" || kind === "any") {
      var group = {};
      group[kind] = [{ field: "", op: "==" }];
      return group;
    }
    if (kind === "not") { return { not: { field: "", op: "==" } }; }
    if (kind === "jsonlogic") { return { jsonlogic: { "==": [{ "var": "" }, ""] } }; }
    return { field: "", op: "==" };
  }

  // One node of the condition tree: its kind (all/any/not/a field test/JSONLogic) and its editor.
  function conditionNode(node, path, set, remove, moves) {
    var kind = kindOf(node);
    var box = el("div", { "class": "cond cond-" + kind, "data-field": path });
    var kindSelect = el("select", {}, GROUP_KINDS.map(function (k) { return el("option", { value: k[0], text: k[1] }); }));
    kindSelect.value = kind;
    kindSelect.addEventListener("change", function () {
      var next = kindSelect.value;
      var keep = kind === "all" || kind === "any" ? node[kind] : null;
      var fresh = emptyOf(next);
      if (keep && (next === "all" || next === "any")) {
        fresh[next] = keep;
      } else if (next === "not") {
        fresh.not = kind === "clause" ? node : fresh.not;
      }
      set(fresh);
      rerenderConditions();
      changed();
    });
    var head = el("div", { "class": "cond-head" }, [fieldBox(path + ".__kind", "Condition type", null, kindSelect, false, "inline")]);
    (moves || []).forEach(function (button) { head.appendChild(button); });
    if (remove) {
      var removeButton = el("button", { type: "button", text: "Remove condition", "aria-label": "Remove condition " + path });
      removeButton.addEventListener("click", function () { remove(); rerenderConditions(); changed(); });
      head.appendChild(removeButton);
    }
    box.appendChild(head);
    if (kind === "all" || kind === "any") {
      var children = node[kind];
      var list = el("ol", { "class": "cond-children" });
      children.forEach(function (child, index) {
        var childPath = join(join(path, kind), index);
        list.appendChild(el("li", {}, [conditionNode(child, childPath,
          function (v) { children[index] = v; set(node); },
          children.length > 1 ? function () { children.splice(index, 1); set(node); } : null)]));
      });
      box.appendChild(list);
      var addClause = el("button", { type: "button", text: "Add a field test" });
      addClause.addEventListener("click", function () { children.push(emptyOf("clause")); set(node); rerenderConditions(); changed(); });
      var addGroup = el("button", { type: "button", text: "Add a group" });
      addGroup.addEventListener("click", function () { children.push(emptyOf(kind === "all" ? "any" : "all")); set(node); rerenderConditions(); changed(); });
      box.appendChild(el("div", { "class": "buttons" }, [addClause, addGroup]));
    } else if (kind === "not") {
      box.appendChild(conditionNode(node.not, join(path, "not"), function (v) { node.not = v; set(node); }, null));
    } else if (kind === "jsonlogic") {
      box.appendChild(jsonField("jsonlogic", join(path, "jsonlogic"), "JSONLogic", "A JsonLogic expression, e.g. {\">\": [{\"var\": \"deal.amount\"}, 50000]}",
        function () { return node.jsonlogic; }, function (v) { node.jsonlogic = v === undefined ? {} : v; set(node); }, true));
    } else {
      box.appendChild(clauseEditor(node, path, set));
    }
    return box;
  }

  var conditionsHost = null;
  var stepConditionHosts = [];

  function conditionsEditor(host, getRoot, setRoot, path, noun) {
    host.textContent = "";
    var current = getRoot();
    var mode = current === undefined || current === null ? "none" : "builder";
    var modes = el("fieldset", { "class": "group checks" }, [el("legend", { text: noun })]);
    var choices = [["none", path === "conditions" ? "None: every trigger runs the steps" : "Always run this step"], ["builder", "Only when..."]];
    var name = uid("mode");
    choices.forEach(function (choice) {
      var radio = el("input", { type: "radio", name: name, value: choice[0], id: uid("r"), checked: mode === choice[0] });
      radio.addEventListener("change", function () {
        if (!radio.checked) { return; }
        setRoot(choice[0] === "none" ? undefined : { all: [{ field: "", op: "==" }] });
        conditionsEditor(host, getRoot, setRoot, path, noun);
        changed();
      });
      modes.appendChild(el("span", { "class": "check" }, [radio, el("label", { "for": radio.id, text: choice[1] })]));
    });
    host.appendChild(modes);
    if (mode !== "none") {
      host.appendChild(conditionNode(current, path, function (v) { setRoot(v); }, null));
    }
  }

  function rerenderConditions() {
    if (conditionsHost) {
      conditionsHost();
    }
    stepConditionHosts.forEach(function (redraw) { redraw(); });
  }

  function renderConditions(section) {
    var host = el("div", {});
    section.appendChild(host);
    conditionsHost = function () {
      conditionsEditor(host, function () { return state.def.conditions; }, function (v) { put(state.def, "conditions", v); }, "conditions", "When do the steps run?");
    };
    conditionsHost();
    var id = datalistId();
    if (id) {
      var entity = entityOf(state.def.trigger);
      section.appendChild(el("datalist", { id: id }, REGISTRY[entity].fields.map(function (f) {
        return el("option", { value: f.path, label: f.type + (f.relation ? " via " + f.relation : "") });
      })));
    }
  }

  // --- steps ---------------------------------------------------------------------------------------

  var STEP = resolve({ $ref: "#/$defs/Step" });
  var STEP_OWN = ["id", "type", "name", "config", "when"];

  function renderSteps(section) {
    var steps = state.def.steps = state.def.steps || [];
    stepConditionHosts = [];
    var list = el("ol", { "class": "step-forms" });
    steps.forEach(function (step, index) {
      var path = join("steps", index);
      var item = el("li", { "class": "step-form", "data-field": path, "data-step": step.id || "" });
      var title = el("h3", { text: "Step " + (index + 1) + ": " + (step.name || step.id || "") });
      var buttons = el("div", { "class": "buttons" });
      [["Move up", -1], ["Move down", 1]].forEach(function (spec) {
        var target = index + spec[1];
        var button = el("button", { type: "button", text: spec[0], "aria-label": spec[0] + " step " + (index + 1), disabled: target < 0 || target >= steps.length });
        button.addEventListener("click", function () {
          var moved = steps.splice(index, 1)[0];
          steps.splice(target, 0, moved);
          rerender();
          changed();
          var again = root.querySelectorAll(".step-form")[target];
          if (again) {
            var same = again.querySelector("button[aria-label^='" + spec[0] + "']");
            (same && !same.disabled ? same : again.querySelector("button")).focus();
          }
        });
        buttons.appendChild(button);
      });
      var remove = el("button", { type: "button", text: "Remove", "aria-label": "Remove step " + (index + 1), disabled: steps.length < 2 });
      remove.addEventListener("click", function () { steps.splice(index, 1); rerender(); changed(); });
      buttons.appendChild(remove);
      item.appendChild(el("div", { "class": "step-top" }, [title, buttons]));
      item.appendChild(textInput(join(path, "id"), "Step id", "Letters, digits and _; later steps read its output as steps.<id>.output.", step.id, function (v) { step.id = v.trim(); }, { required: true }));
      item.appendChild(textInput(join(path, "name"), "Step name", null, step.name, function (v) { put(step, "name", v); }));
      var type = el("select", {}, [el("option", { value: "", text: "(choose an action)" })].concat(Object.keys(ACTIONS).sort().map(function (a) { return el("option", { value: a, text: a.replace(/_/g, " ") }); })));
      type.value = step.type || "";
      type.addEventListener("change", function () { step.type = type.value; step.config = {}; rerender(); changed(); });
      item.appendChild(fieldBox(join(path, "type"), "Action", null, type, true));
      if (ACTIONS[step.type]) {
        step.config = step.config || {};
        item.appendChild(objectFieldset(ACTIONS[step.type], labelFor(step.type) + " settings", join(path, "config"),
          function () { return step.config; }, function (v) { step.config = v || {}; }));
      }
      var whenHost = el("div", { "class": "step-when" });
      var redraw = function () {
        conditionsEditor(whenHost, function () { return step.when; }, function (v) { put(step, "when", v); }, join(path, "when"), "When does this step run?");
      };
      redraw();
      stepConditionHosts.push(redraw);
      item.appendChild(whenHost);
      var policy = el("details", { "class": "step-policy" }, [el("summary", { text: "Retries, timeout, failure and notifications" })]);
      Object.keys(STEP.properties).forEach(function (prop) {
        if (STEP_OWN.indexOf(prop) !== -1) {
          return;
        }
        var node = schemaField(STEP.properties[prop], prop, join(path, prop), function () { return step[prop]; }, function (v) { put(step, prop, v); });
        if (node) {
          policy.appendChild(node);
        }
      });
      if (Object.keys(step).some(function (k) { return STEP_OWN.indexOf(k) === -1; })) {
        policy.open = true;
      }
      item.appendChild(policy);
      list.appendChild(item);
    });
    section.appendChild(list);
    var add = el("button", { type: "button", text: "Add a step" });
    add.addEventListener("click", function () {
      var n = steps.length + 1;
      var ids = steps.map(function (s) { return s.id; });
      while (ids.indexOf("step_" + n) !== -1) { n += 1; }
      steps.push({ id: "step_" + n, type: "", config: {} });
      rerender();
      changed();
      var forms = root.querySelectorAll(".step-form");
      var input = forms[forms.length - 1].querySelector("input");
      if (input) { input.focus(); }
    });
    section.appendChild(add);
  }

  function renderSettings(section) {
    var settings = resolve({ $ref: "#/$defs/Settings" });
    var details = el("details", {}, [el("summary", { text: "Settings: retries, throttle, alerts, expand..." })]);
    details.appendChild(objectFieldset(settings, "Settings", "settings", function () { return state.def.settings; },
      function (v) { state.def.settings = v || {}; }, null, ["tags", "owner"]));
    section.appendChild(details);
  }

  // --- rendering, text view, validation --------------------------------------------------------

  var sections = {
    basics: document.getElementById("ed-basics"),
    trigger: document.getElementById("ed-trigger"),
    conditions: document.getElementById("ed-conditions"),
    steps: document.getElementById("ed-steps"),
    settings: document.getElementById("ed-settings")
  };

  function rerender() {
    var focusPath = document.activeElement && document.activeElement.getAttribute ? document.activeElement.getAttribute("data-path") : null;
    webhookUrlNode = null;
    Object.keys(sections).forEach(function (name) {
      var host = sections[name].querySelector(".ed-body");
      host.textContent = "";
      ({ basics: renderBasics, trigger: renderTrigger, conditions: renderConditions, steps: renderSteps, settings: renderSettings })[name](host);
    });
    showErrors();
    if (focusPath) {
      var again = root.querySelector("[data-path='" + cssEscape(focusPath) + "']");
      if (again) { again.focus(); }
    }
  }

  function cssEscape(text) {
    return window.CSS && CSS.escape ? CSS.escape(text) : text.replace(/['\\]/g, "\\$&");
  }

  var textArea = document.getElementById("ed-text");
  var textFormat = document.getElementById("ed-text-format");
  var textStatus = document.getElementById("ed-text-status");
  var summary = document.getElementById("ed-errors");
  var typingInText = false;

  function definitionText() {
    return state.textFormat === "json" ? JSON.stringify(state.def, null, 2) : null;
  }

  function check() {
    state.checkSeq += 1;
    var seq = state.checkSeq;
    state.reviewed = false;
    resetReview();
    post(URLS.check, { definition: state.def }).then(function (answer) {
      if (seq !== state.checkSeq) {
        return;
      }
      state.errors = answer.errors || [];
      if (!typingInText) {
        textArea.value = definitionText() || answer.text;
      }
      showErrors();
    }).catch(function (error) {
      state.errors = [{ path: "", message: error.message }];
      showErrors();
    });
  }

  var checkSoon = debounce(check, 350);

  function changed() {
    typingInText = false;
    checkSoon();
  }

  function nearest(path) {
    var probe = path;
    while (probe) {
      var found = root.querySelector("[data-path='" + cssEscape(probe) + "']") || root.querySelector("[data-field='" + cssEscape(probe) + "']");
      if (found) {
        return found;
      }
      var cut = Math.max(probe.lastIndexOf("."), probe.lastIndexOf("["));
      probe = cut > 0 ? probe.slice(0, cut) : "";
    }
    return null;
  }

  function showErrors() {
    root.querySelectorAll(".field-error[data-server]").forEach(function (node) { node.remove(); });
    root.querySelectorAll("[aria-invalid][data-server-invalid]").forEach(function (node) {
      node.removeAttribute("aria-invalid");
      node.removeAttribute("data-server-invalid");
      var described = (node.getAttribute("aria-describedby") || "").split(" ").filter(function (id) { return id.indexOf("-err") === -1; }).join(" ");
      if (described) { node.setAttribute("aria-describedby", described); } else { node.removeAttribute("aria-describedby"); }
    });
    root.querySelectorAll(".has-error").forEach(function (node) { node.classList.remove("has-error"); });
    summary.textContent = "";
    var errors = state.errors;
    var status = document.getElementById("ed-status");
    status.textContent = errors.length ? errors.length + (errors.length === 1 ? " problem" : " problems") + " to fix before saving." : "No problems: the workflow can be saved.";
    status.className = errors.length ? "ed-status bad" : "ed-status ok";
    if (!errors.length) {
      return;
    }
    var list = el("ul", {});
    errors.forEach(function (error, index) {
      var target = error.path ? nearest(error.path) : null;
      var id = "ed-err-" + index;
      var message = el("p", { "class": "field-error", id: id, "data-server": "1", "data-error-path": error.path, text: error.message });
      if (target) {
        var control = target.matches("input, select, textarea") ? target : null;
        var box = control ? control.closest(".field") || control.parentNode : target;
        box.classList.add("has-error");
        if (control) {
          control.setAttribute("aria-invalid", "true");
          control.setAttribute("data-server-invalid", "1");
          control.setAttribute("aria-describedby", ((control.getAttribute("aria-describedby") || "") + " " + id).trim());
          box.appendChild(message);
        } else {
          var legend = box.querySelector("legend");
          box.insertBefore(message, legend ? legend.nextSibling : box.firstChild);
        }
      }
      var link = el("a", { href: "#", text: (error.path || "(the workflow)") });
      link.addEventListener("click", function (event) {
        event.preventDefault();
        var focusable = target && (target.matches("input, select, textarea") ? target : target.querySelector("input, select, textarea"));
        if (focusable) {
          var details = focusable.closest("details");
          if (details) { details.open = true; }
          focusable.focus();
        }
      });
      list.appendChild(el("li", {}, [link, ": " + error.message]));
    });
    summary.appendChild(list);
  }

  var parseText = debounce(function () {
    post(URLS.parse, { text: textArea.value }).then(function (answer) {
      if (!answer.ok) {
        textStatus.textContent = answer.errors.map(function (e) { return e.message; }).join("; ");
        textStatus.className = "field-error";
        textArea.setAttribute("aria-invalid", "true");
        return;
      }
      textStatus.textContent = "The form shows this text.";
      textStatus.className = "hint";
      textArea.removeAttribute("aria-invalid");
      state.def = answer.definition;
      if (EDITING) {
        state.def.key = DATA.key;
      }
      rerender();
      check();
    }).catch(function (error) { textStatus.textContent = error.message; });
  }, 600);

  textArea.addEventListener("input", function () { typingInText = true; parseText(); });
  textArea.addEventListener("blur", function () { typingInText = false; });
  textFormat.addEventListener("change", function () {
    state.textFormat = textFormat.value;
    typingInText = false;
    check();
  });

  // --- dry run ---------------------------------------------------------------------------------------

  var dryEvent = document.getElementById("dry-event");
  var dryRecord = document.getElementById("dry-record");
  var dryParams = document.getElementById("dry-params");
  var dryOut = document.getElementById("dry-result");

  function sampleEvent() {
    var entity = entityOf(state.def.trigger);
    var columns = entity && REGISTRY[entity] ? REGISTRY[entity].columns : {};
    var sample = {};
    Object.keys(columns).forEach(function (c) {
      var t = columns[c];
      sample[c] = t === "integer" ? 1 : t === "number" ? 100 : t === "boolean" ? false : t === "datetime" || t === "date" ? "2026-01-01T00:00:00Z" : c;
    });
    return { id: 1, new: sample, old: sample };
  }

  if (dryEvent && !dryEvent.value.trim()) {
    dryEvent.value = JSON.stringify(sampleEvent(), null, 2);
  }

  function dryRun() {
    var event;
    try {
      event = dryEvent.value.trim() ? JSON.parse(dryEvent.value) : {};
    } catch (error) {
      dryOut.textContent = "";
      dryOut.appendChild(el("p", { "class": "field-error", role: "alert", text: "The sample event is not JSON: " + error.message }));
      return;
    }
    if (dryRecord.value.trim()) {
      event.id = numberOrText(dryRecord.value, true);
    }
    var body = { definition: state.def, event: event, version: (DATA.version || 0) + 1 };
    if (dryParams.value.trim()) {
      try {
        body.params = JSON.parse(dryParams.value);
      } catch (error) {
        dryOut.textContent = "";
        dryOut.appendChild(el("p", { "class": "field-error", role: "alert", text: "The inputs are not JSON: " + error.message }));
        return;
      }
    }
    dryOut.textContent = "Running...";
    post(URLS.dryRun, body).then(function (answer) {
      dryOut.textContent = "";
      if (!answer.ok) {
        dryOut.appendChild(el("p", { "class": "field-error", role: "alert", text: "Not run: " + answer.errors.map(function (e) { return (e.path ? e.path + ": " : "") + e.message; }).join("; ") }));
        return;
      }
      var report = answer.report;
      var verdict = report.would_run ? "A real run would start" + (report.conditions_met ? " and the conditions are met." : ", but the conditions are not met: the steps are skipped.") : "No run would start" + (report.reason ? ": " + report.reason : ".");
      dryOut.appendChild(el("p", { "class": "dry-verdict", role: "status", "data-would-run": String(report.would_run), "data-conditions-met": String(report.conditions_met), text: verdict }));
      if (report.error) {
        dryOut.appendChild(el("p", { "class": "field-error", text: report.error }));
      }
      var rows = (report.steps || []).map(function (step) {
        return el("tr", { "data-step": step.step }, [
          el("th", { scope: "row" }, [el("code", { text: step.step })]),
          el("td", { "data-label": "Action", text: step.action }),
          el("td", { "data-label": "Plan" }, [el("span", { "class": "badge badge-" + step.status, text: step.status.replace(/_/g, " ") })]),
          el("td", { "data-label": "Detail" }, [step.detail ? el("span", { text: step.detail }) : null,
            step.config ? el("pre", { "class": "code", text: JSON.stringify(step.config, null, 2) }) : null])
        ]);
      });
      dryOut.appendChild(el("div", { "class": "table-wrap" }, [el("table", { "class": "cards-narrow" }, [
        el("thead", {}, [el("tr", {}, ["Step", "Action", "Plan", "Rendered config"].map(function (h) { return el("th", { scope: "col", text: h }); }))]),
        el("tbody", {}, rows)
      ])]));
    }).catch(function (error) {
      dryOut.textContent = "";
      dryOut.appendChild(el("p", { "class": "field-error", role: "alert", text: error.message }));
    });
  }

  document.getElementById("dry-run-button").addEventListener("click", dryRun);

  // --- review and save -------------------------------------------------------------------------------

  var saveButton = document.getElementById("save-button");
  var reviewButton = document.getElementById("review-button");
  var diffOut = document.getElementById("diff-result");
  var saveOut = document.getElementById("save-result");
  var comment = document.getElementById("save-comment");

  function resetReview() {
    if (EDITING) {
      saveButton.disabled = true;
      diffOut.textContent = "";
    }
  }

  function showSaveErrors(errors) {
    saveOut.textContent = "";
    saveOut.appendChild(el("p", { "class": "field-error", role: "alert", text: "Not saved: " + errors.map(function (e) { return (e.path ? e.path + ": " : "") + e.message; }).join("; ") }));
    state.errors = errors;
    showErrors();
  }

  if (reviewButton) {
    reviewButton.addEventListener("click", function () {
      diffOut.textContent = "Comparing...";
      post(URLS.diff, { definition: state.def }).then(function (answer) {
        diffOut.textContent = "";
        if (!answer.ok) {
          showSaveErrors(answer.errors);
          return;
        }
        if (!answer.diff) {
          diffOut.appendChild(el("p", { "class": "muted", role: "status", text: "No change from version " + answer.version + ": saving makes no new version." }));
        } else {
          diffOut.appendChild(el("h3", { id: "diff-h", text: "Changes from version " + answer.version }));
          var pre = el("pre", { "class": "code diff", "aria-labelledby": "diff-h" });
          answer.diff.split("\n").forEach(function (line) {
            var kind = line.indexOf("+++") === 0 || line.indexOf("---") === 0 ? "" : line.charAt(0) === "+" ? "add" : line.charAt(0) === "-" ? "del" : line.indexOf("@@") === 0 ? "hunk" : "";
            pre.appendChild(el("span", { "class": kind, text: line }));
          });
          diffOut.appendChild(pre);
        }
        saveButton.disabled = false;
        saveButton.focus();
      }).catch(function (error) { diffOut.textContent = error.message; });
    });
  }

  saveButton.addEventListener("click", function () {
    saveOut.textContent = "Saving...";
    post(URLS.save, { definition: state.def, comment: comment ? comment.value : null }).then(function (answer) {
      if (!answer.ok) {
        showSaveErrors(answer.errors);
        return;
      }
      saveOut.textContent = "Saved as version " + answer.version + ".";
      window.location.assign(answer.url);
    }).catch(function (error) {
      saveOut.textContent = "";
      saveOut.appendChild(el("p", { "class": "field-error", role: "alert", text: error.message }));
    });
  });

  rerender();
  check();
})();
